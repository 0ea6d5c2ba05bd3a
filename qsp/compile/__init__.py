"""Compile a Model into JAX functions (table-driven tree walk, no generated source)."""

from .compiled import Args, CompiledModel, compile
from .treewalk import CSEProgram, evaluate

__all__ = ["Args", "CompiledModel", "compile", "CSEProgram", "evaluate"]
