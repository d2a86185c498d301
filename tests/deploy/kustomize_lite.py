"""A small kustomize renderer for this repository's manifests, for machines without the kustomize binary.

It implements only what ``deploy/k8s`` uses — ``resources`` (files and directories), ``namespace``,
``labels`` (``includeTemplates``), ``images``, ``replicas`` and inline JSON 6902 ``patches`` with a
``kind``/``name`` target — and refuses any other field, so it can never silently render less than
kustomize would. Where ``kubectl kustomize`` exists, the tests check both render the same objects.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}


class UnsupportedKustomization(ValueError):
    pass


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kustomize build directory`` would produce (for the supported subset)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise UnsupportedKustomization(f"{directory}: kustomize_lite does not implement {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs.extend(build(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for patch in kustomization.get("patches", []):
        _apply_patch(docs, patch)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for label in kustomization.get("labels", []):
        if label.get("includeSelectors"):
            raise UnsupportedKustomization("labels.includeSelectors is not implemented")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
            template = doc.get("spec", {}).get("template") if isinstance(doc.get("spec"), dict) else None
            if label.get("includeTemplates") and template is not None:
                template.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                name = re.split(r"[:@]", container["image"].rsplit("/", 1)[-1])[0]
                prefix = container["image"].rsplit("/", 1)[0] + "/" if "/" in container["image"] else ""
                if prefix + name == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    for replicas in kustomization.get("replicas", []):
        for doc in docs:
            if doc["kind"] in {"Deployment", "StatefulSet"} and doc["metadata"]["name"] == replicas["name"]:
                doc["spec"]["replicas"] = replicas["count"]
    return docs


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {}) if isinstance(doc.get("spec"), dict) else {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _apply_patch(docs: list[dict[str, Any]], patch: dict[str, Any]) -> None:
    if set(patch) != {"target", "patch"} or set(patch["target"]) - {"kind", "name"}:
        raise UnsupportedKustomization(f"only inline JSON 6902 patches with a kind/name target: {patch}")
    target = patch["target"]
    operations = yaml.safe_load(patch["patch"])
    matched = [
        d
        for d in docs
        if d["kind"] == target.get("kind", d["kind"])
        and re.fullmatch(target.get("name", ".*"), d["metadata"]["name"]) is not None
    ]
    if not matched:
        raise UnsupportedKustomization(f"patch target matches nothing: {target}")
    for doc in matched:
        for operation in operations:
            _apply_operation(doc, operation)


def _apply_operation(doc: dict[str, Any], operation: dict[str, Any]) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].lstrip("/").split("/")]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op, value = operation["op"], copy.deepcopy(operation.get("value"))
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, value)
        elif op == "replace":
            node[index] = value
        elif op == "remove":
            del node[index]
        else:
            raise UnsupportedKustomization(f"JSON patch op {op!r} is not implemented")
        return
    if op in {"replace", "remove"} and last not in node:
        raise UnsupportedKustomization(f"{op} of a missing path {operation['path']}")
    if op in {"add", "replace"}:
        node[last] = value
    elif op == "remove":
        del node[last]
    else:
        raise UnsupportedKustomization(f"JSON patch op {op!r} is not implemented")
