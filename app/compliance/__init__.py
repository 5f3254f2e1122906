"""Compliance: the framework library, controls with cross-framework mappings, evidence, scores, gaps."""
