"""tracklake's Pulumi program (infra/__main__.py runs it): see program.build()."""

from .artifacts import ArtifactError
from .config import ConfigError, Settings, load
from .contracts import ContractError, MissingLambdaZip
from .program import Pipeline, build

__all__ = ["ArtifactError", "ConfigError", "ContractError", "MissingLambdaZip", "Pipeline", "Settings", "build", "load"]
