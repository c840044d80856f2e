"""The source simulator: generates, serves and loads data sets in the shape of the source contract."""
