"""Typed configuration: strict pydantic models loaded from YAML and validated at the edge."""

from rexbert.config.base import ConfigModel, load_config, parse_config

__all__ = ["ConfigModel", "load_config", "parse_config"]
