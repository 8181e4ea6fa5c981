"""The model zoo: one module per family, a registry of names (``heplearn.models.registry``).

Families: ``logistic``, ``mlp``, ``bdt``, ``cnn``, ``deepsets``/``pfn``, ``efn``,
``particlenet``/``particlenet-lite`` and ``part``/``part-small``.
"""
