"""Ready-made, cited models (issue #6 fills this shelf).

Each model will be a module exposing ``model()`` (a :class:`qsp.Model`), a default regimen and
a parameter table with value, unit, meaning and source. Until then the package is empty.
"""
