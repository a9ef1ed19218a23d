"""Data sources: readers for real datasets (FineFineWeb, ESCI) and the demo-data generator."""
