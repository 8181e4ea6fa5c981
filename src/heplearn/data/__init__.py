"""From the user's files to model-ready batches.

The dataset spec, sources and public formats (uproot, Parquet, HDF5), expressions,
weights and their diagnostics, labels, splits, padding, jet images, preprocessing, the
in-memory dataset and the streaming loader, and on-disk shuffling.
"""
