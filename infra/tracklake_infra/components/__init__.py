"""The stack's components, one module each; program.build() wires them together. Every
resource is a child of one of them (its URN names the component's type), and carries an alias to
its URN from before the program had components (base.AT_STACK_ROOT)."""

from .base import Component, Context
from .catalog import Catalog
from .lake import Lake
from .monitoring import Monitoring
from .producer import Producer
from .queries import Queries
from .stream import Stream
from .transform import Transform

__all__ = ["Catalog", "Component", "Context", "Lake", "Monitoring", "Producer", "Queries", "Stream", "Transform"]
