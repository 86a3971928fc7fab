"""Typed reads of an op's properties with defaults, shared by the device dialects' ops."""

from __future__ import annotations


class TypedProperties:
    """Mixin for IRDL ops: ``int_prop("axis")``, ``int_list("perm")``, ... (defaults when absent)."""

    def int_list(self, name: str, default: list[int] | None = None) -> list[int]:
        attr = self.properties.get(name)
        return list(attr.get_values()) if attr is not None else list(default or [])

    def int_prop(self, name: str, default: int = 0) -> int:
        attr = self.properties.get(name)
        return attr.value.data if attr is not None else default

    def float_prop(self, name: str, default: float = 0.0) -> float:
        attr = self.properties.get(name)
        return attr.value.data if attr is not None else default

    def str_prop(self, name: str, default: str = "") -> str:
        attr = self.properties.get(name)
        return attr.data if attr is not None else default
