"""The C accelerator of dynaquery.values; everything else is in pyproject.toml.

The extension is optional: where it cannot be compiled, the package installs without it and
values.py uses its pure Python code (same results, slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dynaquery._codec", ["src/dynaquery/_codec.c"], optional=True)])
