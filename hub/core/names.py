"""Kubernetes name syntax: DNS labels and subdomains, label keys and values, resource names.

The rules of apimachinery's validation package (``IsDNS1123Label``, ``IsDNS1123Subdomain``,
``IsQualifiedName``, ``IsValidLabelValue``), each written once. Every check matches the whole
string (a trailing newline never slips through). Checks that explain themselves return a
one-line problem or None; the message quotes the name, which is never secret.
"""

from __future__ import annotations

import re

#: Longest DNS label (namespaces, cluster names, label names and values).
MAX_LABEL = 63
#: Longest DNS subdomain (object names, label key prefixes).
MAX_SUBDOMAIN = 253

_DNS_LABEL_PART = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(_DNS_LABEL_PART)
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL_PART}(\.{_DNS_LABEL_PART})*")
# A label name or value: alphanumeric at both ends, '-', '_' and '.' inside.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
# RESOURCE[.VERSION][.GROUP]: plural, singular or Kind, dot-separated alphanumeric parts.
_RESOURCE_PART = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_RESOURCE = re.compile(rf"{_RESOURCE_PART}(\.{_RESOURCE_PART})*")


def is_dns_label(text: str) -> bool:
    """An RFC 1123 label: lowercase alphanumerics and '-', at most 63 characters."""
    return len(text) <= MAX_LABEL and _DNS_LABEL.fullmatch(text) is not None


def is_dns_subdomain(text: str) -> bool:
    """An RFC 1123 subdomain: dot-separated labels, at most 253 characters."""
    return len(text) <= MAX_SUBDOMAIN and _DNS_SUBDOMAIN.fullmatch(text) is not None


def is_resource_name(text: str) -> bool:
    """A ``RESOURCE[[.VERSION].GROUP]`` string (``secrets``, ``Secret``, ``deployments.apps``)."""
    return _RESOURCE.fullmatch(text) is not None


def label_key_problem(key: object) -> str | None:
    """Why ``key`` is not a label key (``[PREFIX/]NAME``), or None when it is one."""
    if not isinstance(key, str) or not key:
        return "key must be a non-empty string"
    prefix, sep, name = key.rpartition("/")
    if sep and (not prefix or not is_dns_subdomain(prefix)):
        return f"key {key!r} has an invalid prefix"
    if len(name) > MAX_LABEL or _LABEL_NAME.fullmatch(name) is None:
        return f"key {key!r} is not a valid label key"
    return None


def label_value_problem(value: object) -> str | None:
    """Why ``value`` is not a label value (empty is allowed), or None when it is one."""
    if not isinstance(value, str):
        return "values must be strings"
    if value and (len(value) > MAX_LABEL or _LABEL_NAME.fullmatch(value) is None):
        return f"value {value!r} is not a valid label value"
    return None
