"""tracklake's Pulumi program (infra/__main__.py runs it): see program.build()."""

from .config import ConfigError, Settings, load
from .contracts import ContractError, MissingLambdaZip
from .program import Pipeline, build

__all__ = ["ConfigError", "ContractError", "MissingLambdaZip", "Pipeline", "Settings", "build", "load"]
