"""Strawberry glue shared by every subgraph: context, authentication, unit of work, error mapping."""

from __future__ import annotations

import enum
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import strawberry
from graphql import DocumentNode, ExecutionResult, GraphQLError, OperationDefinitionNode, get_named_type, parse
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types.graphql import OperationType
from strawberry.types.info import Info

from hotline.kit import metrics
from hotline.kit.auth import Principal
from hotline.kit.db import READ_ONLY
from hotline.kit.directory import DirectorySync, directory_scope
from hotline.kit.errors import (
    ApiError,
    BadRequestError,
    TokenExpiredError,
    UnauthenticatedError,
    api_error_from_database,
)
from hotline.kit.requestid import current_request_id
from hotline.kit.scope import Scope
from hotline.kit.services import ServiceClients

if TYPE_CHECKING:
    from hotline.kit.db import Database
    from hotline.kit.live import ChangeFeed

logger = logging.getLogger("hotline.graphql")
E = TypeVar("E", bound=enum.Enum)

# Top-level fields anyone may query: schema metadata that the gateway needs to compose.
PUBLIC_ROOT_FIELDS = frozenset({"_service", "__schema", "__type", "__typename"})


class RequestContext(BaseContext):
    """Per-request context: the unit-of-work session, the caller and per-request data loaders."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal | None,
        auth_error: ApiError | None,
        services: ServiceClients | None = None,
        directory: DirectorySync | None = None,
        service: str = "",
        database: Database | None = None,
        live: ChangeFeed | None = None,
    ):
        super().__init__()
        self.service = service
        self.session = session
        # A subscription reads each event in a session of its own (``hotline.kit.live``).
        self.database = database
        self.live = live
        # Whether the request streams its results (a subscription over server-sent events).
        self.streamed = False
        self._principal = principal
        self.auth_error = auth_error
        self.services = services
        self.directory = directory
        self._loaders: dict[str, DataLoader] = {}
        self.cache: dict[str, Any] = {}
        self.reading_only = False

    def read_only(self) -> None:
        """The operation is a query: its session reads in autocommit (where the database is an engine; in tests, an
        outer transaction, it stays in it) and refuses to write (``hotline.kit.db.READ_ONLY``)."""
        self.reading_only = True
        self.session.info[READ_ONLY] = True
        autocommit = self.database.autocommit_engine if self.database is not None else None
        if autocommit is not None and not self.session.in_transaction():
            self.session.sync_session.bind = autocommit.sync_engine

    @property
    def principal(self) -> Principal:
        """The authenticated caller; raises ``UNAUTHENTICATED`` when there is none."""
        if self._principal is None:
            raise self.auth_error or UnauthenticatedError("missing bearer token")
        return self._principal

    async def scope(self) -> Scope:
        """The caller's scope from the service's unit-directory read model, looked up once per request."""
        if self.directory is None:
            raise RuntimeError("this service keeps no unit-directory read model (create_service_app(directory=True))")
        if "scope" not in self.cache:
            self.cache["scope"] = await directory_scope(self.session, self.directory, self.principal.unit_id)
        return self.cache["scope"]

    def forget(self) -> None:
        """Drop the cached scope and the data loaders (a subscription's next event reads afresh)."""
        self._loaders.clear()
        self.cache.clear()

    def loader(self, name: str, load_fn: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader:
        """A DataLoader that lives for this request only (so its cache never crosses callers)."""
        if name not in self._loaders:
            self._loaders[name] = DataLoader(load_fn=load_fn)
        return self._loaders[name]


def _root_field_names(document: Any, operation_name: str | None) -> set[str]:
    names: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None or definition.name.value != operation_name):
            continue
        for selection in definition.selection_set.selections:
            name = getattr(selection, "name", None)
            # Fragments at the root are treated as non-public: authentication is then required.
            names.add(name.value if name is not None else "<fragment>")
    return names


class _Document:
    """A query text's parsed document and, once validated, its validation errors (``None`` until then)."""

    __slots__ = ("document", "errors")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.errors: dict[tuple, tuple[GraphQLError, ...]] = {}


class DocumentCache(SchemaExtension):
    """Parses and validates each distinct query text once per process, not once per request.

    A portal sends the same few operations over and over (through the gateway, the same subgraph queries), and
    parsing and validating a document cost more than answering many of them. The parsed document and its
    validation errors, both functions of the text alone (and of the schema and rules, fixed per process), are
    kept in a bounded LRU keyed by the query text; a text seen again skips both steps. A text that does not parse
    is left to Strawberry (which answers the syntax error) and is not kept.
    """

    MAXSIZE = 1024
    _cache: ClassVar[OrderedDict[tuple[int, str], _Document]] = OrderedDict()

    def _entry(self) -> _Document | None:
        ctx = self.execution_context
        if not ctx.query:
            return None
        key = (id(ctx.schema), ctx.query)
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)
            return entry
        try:
            document = parse(ctx.query, **ctx.parse_options)
        except GraphQLError:
            return None
        entry = self._cache[key] = _Document(document)
        if len(self._cache) > self.MAXSIZE:
            self._cache.popitem(last=False)
        return entry

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None:
            entry = self._entry()
            if entry is not None:
                ctx.graphql_document = entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self._cache.get((id(ctx.schema), ctx.query)) if ctx.query else None
        if entry is None or entry.document is not ctx.graphql_document or ctx.pre_execution_errors is not None:
            yield
            return
        rules = tuple(ctx.validation_rules)
        known = entry.errors.get(rules)
        if known is not None:
            ctx.pre_execution_errors = list(known)
            yield
            return
        yield
        if ctx.pre_execution_errors is not None:
            entry.errors[rules] = tuple(ctx.pre_execution_errors)


class Authenticate(SchemaExtension):
    """Refuses any operation but schema metadata when the request has no valid token."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        context: RequestContext = ctx.context
        if (
            context._principal is None
            and ctx.graphql_document is not None
            and _root_field_names(ctx.graphql_document, ctx.operation_name) - PUBLIC_ROOT_FIELDS
        ):
            error = context.auth_error or UnauthenticatedError("missing bearer token")
            ctx.result = ExecutionResult(
                data=None,
                errors=[GraphQLError(error.message, extensions={"code": error.code})],
            )
        yield


class SubscriptionsStream(SchemaExtension):
    """A subscription asked for as a plain request (no ``Accept: text/event-stream``) has no way to send its events:
    refused as a bad request instead of failing inside the resolver."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.operation_type is OperationType.SUBSCRIPTION and not getattr(ctx.context, "streamed", False):
            message = "a subscription is served as server-sent events: send it with Accept: text/event-stream"
            ctx.result = ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": "BAD_REQUEST"})])
        yield


class UnitOfWork(SchemaExtension):
    """Commits the request's session when the operation succeeded, rolls back otherwise. A query reads outside any
    transaction (``RequestContext.read_only``): no BEGIN and COMMIT round trips, and at PostgreSQL's READ COMMITTED
    each statement saw a snapshot of its own anyway; a query that tries to write fails (``hotline.kit.db``)."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.operation_type is OperationType.QUERY:
            execution.context.read_only()
        yield

    async def on_operation(self):  # type: ignore[override]
        yield
        context = self.execution_context.context
        session: AsyncSession = context.session
        if context.reading_only:
            return
        result = self.execution_context.result
        if result is not None and not getattr(result, "errors", None):
            await session.commit()
        else:
            await session.rollback()


class ErrorCodes(SchemaExtension):
    """Gives every error an ``extensions.code``; masks unexpected errors and logs them with the request id.
    A subscription's results are coded one by one as they are sent (``on_stream_result``)."""

    def on_operation(self) -> Iterator[None]:
        yield
        self._code(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._code(result)
        yield

    @staticmethod
    def _code(result: Any) -> None:
        if result is None or not getattr(result, "errors", None):
            return
        mapped = []
        for error in result.errors:
            original = error.original_error
            if original is not None and not isinstance(original, ApiError | GraphQLError):
                original = api_error_from_database(original) or original
            if isinstance(original, ApiError):
                mapped.append(
                    GraphQLError(
                        original.message,
                        nodes=error.nodes,
                        path=error.path,
                        extensions={"code": original.code, **original.details},
                    )
                )
            elif original is None or isinstance(original, GraphQLError):
                extensions = dict(error.extensions or {})
                extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_REQUEST")
                mapped.append(GraphQLError(error.message, nodes=error.nodes, path=error.path, extensions=extensions))
            else:
                request_id = current_request_id()
                logger.error("unexpected error in GraphQL resolver (request %s)", request_id, exc_info=original)
                mapped.append(
                    GraphQLError(
                        f"Unexpected error; quote request id {request_id} when reporting it",
                        nodes=error.nodes,
                        path=error.path,
                        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                    )
                )
        result.errors = mapped


class OperationMetrics(SchemaExtension):
    """Counts operations, their duration and their errors by operation name (Prometheus, ``hotline.kit.metrics``)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        service = getattr(ctx.context, "service", "") or "unknown"
        operation = metrics.operation_label(ctx.operation_name)
        try:
            operation_type = ctx.operation_type.value
        except Exception:  # no parsable document: the type is unknown
            operation_type = "unknown"
        metrics.GRAPHQL_OPERATIONS.labels(service, operation, operation_type).inc()
        metrics.GRAPHQL_DURATION.labels(service, operation).observe(time.perf_counter() - started)
        result = ctx.result
        for error in getattr(result, "errors", None) or []:
            code = (error.extensions or {}).get("code", "UNKNOWN")
            metrics.GRAPHQL_ERRORS.labels(service, operation, str(code)[:40]).inc()


_KEY_VALUE_TYPES: dict[str, tuple[type, ...]] = {"ID": (str,), "String": (str,), "Int": (int,)}


class _SubgraphSchema(strawberry.federation.Schema):
    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        """``_entities`` with every representation checked first against the entity's ``@key``: anything a client
        could send that is not a representation this subgraph resolves (not an object, no or an unknown
        ``__typename``, missing or extra fields, a key of the wrong type) is a ``BAD_REQUEST`` on its own index,
        and never reaches ``resolve_reference``. An error inside ``resolve_reference`` stays a server error."""
        results: list[Any] = []
        for index, representation in enumerate(representations):
            problem = self._representation_problem(representation)
            if problem is not None:
                results.append(BadRequestError(f"representation {index}: {problem}", representation=index))
            else:
                results.extend(super().entities_resolver(info, [dict(representation)]))
        return results

    def _representation_problem(self, representation: Any) -> str | None:
        if not isinstance(representation, dict):
            return "expected an object with `__typename` and the entity's key fields"
        typename = representation.get("__typename")
        entity_union = self._schema.get_type("_Entity")
        entities = {t.name: t for t in getattr(entity_union, "types", ())}
        if not isinstance(typename, str) or typename not in entities:
            shown = json.dumps(typename, ensure_ascii=False)[:60]
            return f"`__typename` {shown} is not an entity of this subgraph (one of {', '.join(sorted(entities))})"
        definition = self.schema_converter.type_map[typename].definition
        keys = [
            frozenset(d.fields.split())
            for d in getattr(definition, "directives", ())
            if isinstance(d, Key) and d.resolvable is not False
        ]
        if not keys:
            return f"`{typename}` is not resolvable by this subgraph"
        fields = frozenset(representation) - {"__typename"}
        if fields not in keys:
            wanted = " or ".join("{" + ", ".join(sorted(k)) + "}" for k in keys)
            return f"`{typename}` is looked up by exactly {wanted}, not {{{', '.join(sorted(fields))}}}"
        graphql_type = entities[typename]
        for name in sorted(fields):
            field_type = get_named_type(graphql_type.fields[name].type)
            allowed = _KEY_VALUE_TYPES.get(field_type.name)
            value = representation[name]
            if allowed is not None and (not isinstance(value, allowed) or isinstance(value, bool)):
                return (
                    f"`{typename}.{name}` must be {'a whole number' if int in allowed else 'text'} ({field_type.name})"
                )
            if isinstance(value, int) and not -(2**31) <= value < 2**31:
                return f"`{typename}.{name}` is out of range"
        return None

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # A subscription ending because its token expired is the normal end of a long subscription, not an error
        # of the server: it is answered to the caller, and logging it with a traceback would bury the real ones.
        errors = [e for e in errors if not isinstance(e.original_error, TokenExpiredError)]
        super().process_errors(errors, execution_context)


def federation_schema(**kwargs: Any) -> strawberry.federation.Schema:
    """A Federation 2 subgraph schema with the platform's extensions.

    ``federation_version="2.9"``: the composition library the gateway uses rejects 2.10+.
    """
    # OperationMetrics first: its after-hook runs last, so it sees the error codes ErrorCodes assigned.
    # DocumentCache: parsing and validating a query text happen once per process (the portal's texts repeat).
    extensions = [
        OperationMetrics, DocumentCache, Authenticate, SubscriptionsStream, UnitOfWork, ErrorCodes,
        *kwargs.pop("extensions", []),
    ]  # fmt: skip
    return _SubgraphSchema(federation_version="2.9", extensions=extensions, **kwargs)


def described_enum(cls: type[E], *, name: str, description: str, values: dict[str, str]) -> type[E]:
    """``strawberry.enum`` over a domain enum, with a description for each value (keyed by member name).

    The domain enum stays free of Strawberry; a member without a description, or a description for no
    member, fails at import, so a new member cannot reach the schema undocumented.
    """
    members = {member.name for member in cls}
    if set(values) != members:
        raise ValueError(
            f"{name}: describe exactly the members; missing {sorted(members - set(values))}, "
            f"unknown {sorted(set(values) - members)}"
        )
    wrapped = strawberry.enum(cls, name=name, description=description)
    for value in wrapped.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return wrapped
