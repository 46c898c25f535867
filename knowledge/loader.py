"""Reading profile and people YAML files into validated models, with errors that name the file, line and field."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.profile import AccountProfile, Person

try:  # the C loader is ~10x faster on large imports
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


class ProfileError(Exception):
    """A problem in one input file, located as precisely as we can."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.path, self.message, self.line, self.field = str(path), message, line, field
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """An impossible date (2026-02-31) stays text, so validation reports it with its field and line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp)


def read_text(path: Path) -> str:
    """Read a UTF-8 file; a non-UTF-8 byte becomes an error naming its line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProfileError(path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                           line=line) from exc


def parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ProfileError(path, f"malformed YAML: {exc.problem or exc}", line=line) from exc
    except yaml.YAMLError as exc:
        raise ProfileError(path, f"malformed YAML: {exc}") from exc


def _line_of(text: str, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location (mapping keys and list indexes)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                break
            key, node = match[0]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Walk the model along an error location to list the keys allowed where an unknown key was found."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return []
        current = nxt
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def validation_error(path: Path, text: str, model: type[BaseModel], exc: ValidationError,
                     prefix: tuple = ()) -> ProfileError:
    """Turn the first pydantic error into a located ProfileError (the rest are summarised by count)."""
    errors = exc.errors()
    err = errors[0]
    loc = prefix + tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, tuple(err["loc"]))
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        message = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if allowed:
            message += f"; allowed here: {', '.join(allowed)}"
    elif err["type"] == "missing":
        message = "required field is missing"
    else:
        value = err.get("input")
        if not isinstance(value, dict | list):
            message += f" (got {value!r})"
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''} in this file)"
    return ProfileError(path, message, line=_line_of(text, loc), field=_field_name(loc))


@dataclass
class LoadedProfile:
    profile: AccountProfile
    path: Path
    text: str


def load_profile(path: Path) -> LoadedProfile:
    """Load and validate one account profile file."""
    path = Path(path)
    text = read_text(path)
    data = parse_yaml(path, text)
    if not isinstance(data, dict):
        raise ProfileError(path, "expected a mapping of profile keys (account: ..., owner: ...) at the top level",
                           line=1)
    try:
        profile = AccountProfile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, text, AccountProfile, exc) from exc
    return LoadedProfile(profile, path, text)


def load_people(path: Path) -> list[Person]:
    """Load people.yaml: a list of people, each email unique, managers referring to listed people."""
    path = Path(path)
    text = read_text(path)
    data = parse_yaml(path, text)
    if data is None:
        return []
    if isinstance(data, dict) and "people" in data:
        data = data["people"]
        prefix: tuple = ("people",)
    else:
        prefix = ()
    if not isinstance(data, list):
        raise ProfileError(path, "expected a list of people (- email: ..., role: rep|manager|admin)", line=1)
    people: list[Person] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        try:
            person = Person.model_validate(item)
        except ValidationError as exc:
            shifted = ValidationError.from_exception_data(exc.title, exc.errors())  # type: ignore[arg-type]
            raise validation_error(path, text, Person, shifted, prefix=(*prefix, i)) from exc
        if person.email in seen:
            raise ProfileError(path, f"duplicate person {person.email!r} (also entry {seen[person.email] + 1})",
                               line=_line_of(text, (*prefix, i)), field=f"[{i}].email")
        seen[person.email] = i
        people.append(person)
    for i, person in enumerate(people):
        if person.manager and person.manager not in seen:
            raise ProfileError(path, f"manager {person.manager!r} is not listed in this file",
                               line=_line_of(text, (*prefix, i, "manager")), field=f"[{i}].manager")
    return people
