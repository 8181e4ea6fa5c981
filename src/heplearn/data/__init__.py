"""From the user's files to model-ready batches.

Sources, expressions, weights, splits, padding, jet images, loaders and on-disk shuffling.
"""
