"""Geometry beyond axis-aligned boxes: masks and polygons (``masks``), oriented boxes (``obb``).

Pure numpy functions over the model's ``segmentation`` values, imported by formats, rules,
writers and the torch adapter alike. Heavy libraries (OpenCV, shapely, pycocotools' mask API)
are imported inside the functions that need them, with a one-line error naming the extra to
install. **Never**: reads files, knows a format, or keeps state.
"""
