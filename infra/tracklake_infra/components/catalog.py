"""The catalog: the Glue database and the table Firehose converts to Parquet with and Athena
queries, both from schemas/glue/track_observations.json."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .. import contracts
from .base import Component, Context


class Catalog(Component):
    """`tracklake:index:Catalog`: the Glue database and table, the table's location in the lake
    bucket."""

    TYPE = "Catalog"

    def __init__(self, name: str, ctx: Context, bucket: aws.s3.Bucket,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.database = database = self.keep(aws.glue.CatalogDatabase(
            "database", name=ctx.names.glue_database, opts=self.child(named=True)))
        table_input = bucket.bucket.apply(contracts.glue_table_input)
        sd = table_input.apply(lambda t: t["StorageDescriptor"])
        self.table = table = self.keep(aws.glue.CatalogTable(
            "table",
            name=ctx.delivery["glue_table"],
            database_name=database.name,
            description=table_input.apply(lambda t: t.get("Description")),
            table_type=table_input.apply(lambda t: t["TableType"]),
            parameters=table_input.apply(lambda t: t["Parameters"]),
            partition_keys=table_input.apply(
                lambda t: [{"name": k["Name"], "type": k["Type"], "comment": k.get("Comment")} for k in t["PartitionKeys"]]
            ),
            storage_descriptor={
                "location": sd.apply(lambda s: s["Location"]),
                "input_format": sd.apply(lambda s: s["InputFormat"]),
                "output_format": sd.apply(lambda s: s["OutputFormat"]),
                "ser_de_info": {
                    "serialization_library": sd.apply(lambda s: s["SerdeInfo"]["SerializationLibrary"]),
                    "parameters": sd.apply(lambda s: s["SerdeInfo"].get("Parameters", {})),
                },
                "columns": sd.apply(
                    lambda s: [{"name": c["Name"], "type": c["Type"], "comment": c.get("Comment") or None}
                               for c in s["Columns"]]
                ),
            },
            opts=self.child(named=True),
        ))
        self.register_outputs({"database": database.name, "table": table.name})
