"""The bus seam: stamped messages on subjects, with the last value kept per subject."""
