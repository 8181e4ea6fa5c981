"""From the user's files to model-ready batches.

The dataset spec, the readers of every input format (``readers/``: ROOT, Parquet, HDF5,
public jet data sets), expressions, weights and their diagnostics, labels, splits,
padding, jet images, preprocessing, the in-memory dataset and the streaming loader, and
on-disk shuffling.
"""
