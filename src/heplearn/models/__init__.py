"""The model zoo: one module per family, and the registry of their names.

:data:`heplearn.models.registry.MODELS` maps every ``model.name`` to its
:class:`~heplearn.models.base.ModelFamily`: classifiers and regressors on tabular inputs,
jet images and particle clouds, estimators trained without Lightning (``bdt`` and
``forest``, through the hooks of :mod:`heplearn.models.estimators`), anomaly detectors and
generative models.
"""
