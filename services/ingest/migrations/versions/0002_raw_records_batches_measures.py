"""Raw records (partitioned by month), batches with per-row problems, column mappings, daily measures.

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-11-23

The raw tables are frozen copies of the canonical formats in ``services/ingest/records.py`` as of this
revision (a later change of a format is a new migration). Monthly partitions are created on demand by
the loader (``ingest.ensure_partitions``). ``daily_measure`` is one wide row per (unit, day) with one
column per catalog ``sum`` measure — see ``services/ingest/aggregation.py`` for why.
"""

from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None

RAW_TABLES = (
    "raw_call",
    "raw_work_order",
    "raw_rating",
    "raw_inspection",
    "raw_callback",
    "raw_chat_session",
    "raw_smart_test",
    "raw_knowledge_update",
    "raw_reported_item",
)

RAW_DDL = (
    """CREATE TABLE ingest.raw_call (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        started_at timestamptz NOT NULL,
        direction text NOT NULL,
        outcome text NOT NULL,
        ivr_seconds double precision,
        queue_seconds double precision,
        ring_seconds double precision,
        talk_seconds double precision,
        handle_seconds double precision,
        answered_at timestamptz,
        ended_at timestamptz,
        transferred boolean,
        resolved_first_contact boolean,
        repeat_caller boolean,
        complaint boolean,
        caller_hash text,
        work_order_id text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_work_order (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        received_at timestamptz NOT NULL,
        channel text NOT NULL,
        category text,
        handled_directly boolean,
        handling_unit_id text,
        dispatched_at timestamptz,
        reassignments integer,
        sent_back_to_origin boolean,
        call_ended_at timestamptz,
        submitted_at timestamptz,
        first_response_at timestamptz,
        first_contact_at timestamptz,
        due_at timestamptz,
        replied_at timestamptz,
        reply_complete boolean,
        closed_at timestamptz,
        on_time boolean,
        returned_for_redo integer,
        supervised boolean,
        resolved boolean,
        reopened boolean,
        status text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_rating (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        rated_at timestamptz NOT NULL,
        target text NOT NULL,
        rating integer NOT NULL,
        reasons text[],
        verified boolean,
        followed_up boolean,
        work_order_id text,
        call_id text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_inspection (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        inspected_at timestamptz NOT NULL,
        subject text NOT NULL,
        subject_id text,
        attitude double precision,
        professionalism double precision,
        expression double precision,
        accuracy double precision,
        order_quality double precision,
        passed boolean NOT NULL,
        accurate boolean,
        recorded_within_60s boolean,
        knowledge_error boolean,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_callback (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        due_at timestamptz NOT NULL,
        done_at timestamptz,
        work_order_id text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_chat_session (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        started_at timestamptz NOT NULL,
        first_response_seconds double precision,
        duration_seconds double precision,
        agent_served boolean,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_smart_test (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        tested_at timestamptz NOT NULL,
        question text,
        correct boolean NOT NULL,
        response_seconds double precision,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_knowledge_update (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        published_at timestamptz NOT NULL,
        entered_at timestamptz,
        title text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
    """CREATE TABLE ingest.raw_reported_item (
        source text NOT NULL,
        record_id text NOT NULL,
        unit_id text NOT NULL,
        submitted_at timestamptz NOT NULL,
        category text NOT NULL,
        title text NOT NULL,
        summary text,
        document_url text,
        day date NOT NULL,
        batch_id bigint NOT NULL,
        row_no integer NOT NULL
    ) PARTITION BY RANGE (day)""",
)

# (source, record_id): the natural key, for de-duplication and contributions; batch_id: BRIN, because
# batch ids grow with insertion order (tiny, nearly free to maintain; used by withdrawal and reports);
# (day, unit_id): the recomputation of touched days.
RAW_INDEXES = (
    "CREATE INDEX ix_raw_call_key ON ingest.raw_call (source, record_id)",
    "CREATE INDEX ix_raw_call_batch ON ingest.raw_call USING brin (batch_id)",
    "CREATE INDEX ix_raw_call_day_unit ON ingest.raw_call (day, unit_id)",
    "CREATE INDEX ix_raw_work_order_key ON ingest.raw_work_order (source, record_id)",
    "CREATE INDEX ix_raw_work_order_batch ON ingest.raw_work_order USING brin (batch_id)",
    "CREATE INDEX ix_raw_work_order_day_unit ON ingest.raw_work_order (day, unit_id)",
    "CREATE INDEX ix_raw_rating_key ON ingest.raw_rating (source, record_id)",
    "CREATE INDEX ix_raw_rating_batch ON ingest.raw_rating USING brin (batch_id)",
    "CREATE INDEX ix_raw_rating_day_unit ON ingest.raw_rating (day, unit_id)",
    "CREATE INDEX ix_raw_inspection_key ON ingest.raw_inspection (source, record_id)",
    "CREATE INDEX ix_raw_inspection_batch ON ingest.raw_inspection USING brin (batch_id)",
    "CREATE INDEX ix_raw_inspection_day_unit ON ingest.raw_inspection (day, unit_id)",
    "CREATE INDEX ix_raw_callback_key ON ingest.raw_callback (source, record_id)",
    "CREATE INDEX ix_raw_callback_batch ON ingest.raw_callback USING brin (batch_id)",
    "CREATE INDEX ix_raw_callback_day_unit ON ingest.raw_callback (day, unit_id)",
    "CREATE INDEX ix_raw_chat_session_key ON ingest.raw_chat_session (source, record_id)",
    "CREATE INDEX ix_raw_chat_session_batch ON ingest.raw_chat_session USING brin (batch_id)",
    "CREATE INDEX ix_raw_chat_session_day_unit ON ingest.raw_chat_session (day, unit_id)",
    "CREATE INDEX ix_raw_smart_test_key ON ingest.raw_smart_test (source, record_id)",
    "CREATE INDEX ix_raw_smart_test_batch ON ingest.raw_smart_test USING brin (batch_id)",
    "CREATE INDEX ix_raw_smart_test_day_unit ON ingest.raw_smart_test (day, unit_id)",
    "CREATE INDEX ix_raw_knowledge_update_key ON ingest.raw_knowledge_update (source, record_id)",
    "CREATE INDEX ix_raw_knowledge_update_batch ON ingest.raw_knowledge_update USING brin (batch_id)",
    "CREATE INDEX ix_raw_knowledge_update_day_unit ON ingest.raw_knowledge_update (day, unit_id)",
    "CREATE INDEX ix_raw_reported_item_key ON ingest.raw_reported_item (source, record_id)",
    "CREATE INDEX ix_raw_reported_item_batch ON ingest.raw_reported_item USING brin (batch_id)",
    "CREATE INDEX ix_raw_reported_item_day_unit ON ingest.raw_reported_item (day, unit_id)",
    "CREATE INDEX ix_raw_work_order_day_handling ON ingest.raw_work_order (day, handling_unit_id)",
)

DAILY_MEASURE_DDL = """CREATE TABLE ingest.daily_measure (
        unit_id text NOT NULL,
        day date NOT NULL,
        "calls.offered" double precision NOT NULL DEFAULT 0,
        "calls.answered" double precision NOT NULL DEFAULT 0,
        "calls.answered_within_15s" double precision NOT NULL DEFAULT 0,
        "calls.answered_within_20s" double precision NOT NULL DEFAULT 0,
        "calls.abandoned" double precision NOT NULL DEFAULT 0,
        "calls.answer_wait_seconds" double precision NOT NULL DEFAULT 0,
        "calls.abandon_wait_seconds" double precision NOT NULL DEFAULT 0,
        "calls.queue_seconds" double precision NOT NULL DEFAULT 0,
        "calls.ring_seconds" double precision NOT NULL DEFAULT 0,
        "calls.talk_seconds" double precision NOT NULL DEFAULT 0,
        "calls.handle_seconds" double precision NOT NULL DEFAULT 0,
        "calls.ivr_entered" double precision NOT NULL DEFAULT 0,
        "calls.ivr_seconds" double precision NOT NULL DEFAULT 0,
        "calls.ivr_resolved" double precision NOT NULL DEFAULT 0,
        "calls.inbound" double precision NOT NULL DEFAULT 0,
        "calls.outbound" double precision NOT NULL DEFAULT 0,
        "calls.transferred" double precision NOT NULL DEFAULT 0,
        "calls.resolved_first_contact" double precision NOT NULL DEFAULT 0,
        "calls.repeat" double precision NOT NULL DEFAULT 0,
        "calls.complaints" double precision NOT NULL DEFAULT 0,
        "orders.received" double precision NOT NULL DEFAULT 0,
        "orders.received_mobile" double precision NOT NULL DEFAULT 0,
        "orders.mobile_responded_on_time" double precision NOT NULL DEFAULT 0,
        "orders.handled_directly" double precision NOT NULL DEFAULT 0,
        "orders.direct_reopened" double precision NOT NULL DEFAULT 0,
        "orders.dispatched" double precision NOT NULL DEFAULT 0,
        "orders.dispatched_on_time" double precision NOT NULL DEFAULT 0,
        "orders.dispatched_precisely" double precision NOT NULL DEFAULT 0,
        "orders.sent_back_to_origin" double precision NOT NULL DEFAULT 0,
        "orders.submission_seconds" double precision NOT NULL DEFAULT 0,
        "orders.submitted" double precision NOT NULL DEFAULT 0,
        "orders.assigned" double precision NOT NULL DEFAULT 0,
        "orders.first_contact_on_time" double precision NOT NULL DEFAULT 0,
        "orders.closed" double precision NOT NULL DEFAULT 0,
        "orders.closed_on_time" double precision NOT NULL DEFAULT 0,
        "orders.closed_first_time" double precision NOT NULL DEFAULT 0,
        "orders.resolution_hours" double precision NOT NULL DEFAULT 0,
        "orders.returned_for_redo" double precision NOT NULL DEFAULT 0,
        "orders.reopened" double precision NOT NULL DEFAULT 0,
        "orders.supervised" double precision NOT NULL DEFAULT 0,
        "orders.supervised_resolved" double precision NOT NULL DEFAULT 0,
        "orders.replied" double precision NOT NULL DEFAULT 0,
        "orders.reply_complete" double precision NOT NULL DEFAULT 0,
        "surveys.rated" double precision NOT NULL DEFAULT 0,
        "surveys.satisfied" double precision NOT NULL DEFAULT 0,
        "surveys.score_sum" double precision NOT NULL DEFAULT 0,
        "surveys.service_rated" double precision NOT NULL DEFAULT 0,
        "surveys.service_satisfied" double precision NOT NULL DEFAULT 0,
        "surveys.outcome_rated" double precision NOT NULL DEFAULT 0,
        "surveys.outcome_satisfied" double precision NOT NULL DEFAULT 0,
        "surveys.dissatisfied" double precision NOT NULL DEFAULT 0,
        "surveys.dissatisfied_verified" double precision NOT NULL DEFAULT 0,
        "surveys.dissatisfied_followed_up" double precision NOT NULL DEFAULT 0,
        "surveys.reason.repeated_unhandled" double precision NOT NULL DEFAULT 0,
        "surveys.reason.result_unexpected" double precision NOT NULL DEFAULT 0,
        "surveys.reason.result_mismatch" double precision NOT NULL DEFAULT 0,
        "surveys.reason.too_slow" double precision NOT NULL DEFAULT 0,
        "surveys.reason.attitude" double precision NOT NULL DEFAULT 0,
        "inspections.sampled" double precision NOT NULL DEFAULT 0,
        "inspections.passed" double precision NOT NULL DEFAULT 0,
        "inspections.attitude_points" double precision NOT NULL DEFAULT 0,
        "inspections.professionalism_points" double precision NOT NULL DEFAULT 0,
        "inspections.expression_points" double precision NOT NULL DEFAULT 0,
        "inspections.accuracy_points" double precision NOT NULL DEFAULT 0,
        "inspections.order_quality_points" double precision NOT NULL DEFAULT 0,
        "inspections.accurate" double precision NOT NULL DEFAULT 0,
        "inspections.recorded_within_60s" double precision NOT NULL DEFAULT 0,
        "inspections.knowledge_errors" double precision NOT NULL DEFAULT 0,
        "callbacks.required" double precision NOT NULL DEFAULT 0,
        "callbacks.done" double precision NOT NULL DEFAULT 0,
        "chats.sessions" double precision NOT NULL DEFAULT 0,
        "chats.first_response_seconds" double precision NOT NULL DEFAULT 0,
        "chats.duration_seconds" double precision NOT NULL DEFAULT 0,
        "smart.tests" double precision NOT NULL DEFAULT 0,
        "smart.correct" double precision NOT NULL DEFAULT 0,
        "smart.response_seconds" double precision NOT NULL DEFAULT 0,
        "knowledge.updates" double precision NOT NULL DEFAULT 0,
        "knowledge.updates_within_24h" double precision NOT NULL DEFAULT 0,
        "reported.items" double precision NOT NULL DEFAULT 0,
        CONSTRAINT pk_daily_measure PRIMARY KEY (unit_id, day)
    )"""

OTHER_DDL = (
    """CREATE TABLE ingest.batch (
        id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_batch PRIMARY KEY,
        kind text NOT NULL,
        source text NOT NULL,
        status text NOT NULL DEFAULT 'received',
        format text,
        filename text,
        time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
        mapping_name text,
        submitted_by text NOT NULL,
        submitter_unit_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        withdrawn_at timestamptz,
        withdrawn_by text,
        period_from date,
        period_to date,
        expected_rows integer,
        rows_read integer NOT NULL DEFAULT 0,
        rows_valid integer NOT NULL DEFAULT 0,
        rows_rejected integer NOT NULL DEFAULT 0,
        rows_new integer NOT NULL DEFAULT 0,
        rows_corrected integer NOT NULL DEFAULT 0,
        rows_duplicate integer NOT NULL DEFAULT 0,
        rows_repeated_in_file integer NOT NULL DEFAULT 0,
        error text,
        quality jsonb,
        content_sha256 text,
        CONSTRAINT ck_batch_status_known CHECK (status IN ('received','validating','loading','aggregating','done','failed','withdrawn'))
    )""",
    "CREATE INDEX ix_batch_submitter_unit_id ON ingest.batch (submitter_unit_id)",
    "CREATE INDEX ix_batch_source ON ingest.batch (source)",
    "CREATE INDEX ix_batch_kind_source_content_sha256 ON ingest.batch (kind, source, content_sha256)",
    """CREATE TABLE ingest.batch_problem (
        batch_id bigint NOT NULL CONSTRAINT fk_batch_problem_batch_id_batch REFERENCES ingest.batch (id) ON DELETE CASCADE,
        row_no integer NOT NULL,
        field text,
        value text,
        reason text NOT NULL
    )""",
    "CREATE INDEX ix_batch_problem_batch_id_row_no ON ingest.batch_problem (batch_id, row_no)",
    """CREATE TABLE ingest.column_mapping (
        name text CONSTRAINT pk_column_mapping PRIMARY KEY,
        kind text NOT NULL,
        description text NOT NULL DEFAULT '',
        spec jsonb NOT NULL,
        owner_unit_id text NOT NULL,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_column_mapping_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$')
    )""",
    # Creates the monthly partition of a raw table holding `day`, if missing (called by the loader).
    """CREATE FUNCTION ingest.ensure_partition(raw_table text, day date) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        first_day date := date_trunc('month', day)::date;
        partition text := raw_table || '_' || to_char(first_day, 'YYYY"m"MM');
    BEGIN
        IF to_regclass('ingest.' || partition) IS NULL THEN
            EXECUTE format('CREATE TABLE ingest.%I PARTITION OF ingest.%I FOR VALUES FROM (%L) TO (%L)',
                           partition, raw_table, first_day, (first_day + interval '1 month')::date);
        END IF;
    END $$""",
)


def upgrade() -> None:
    for statement in (*RAW_DDL, *RAW_INDEXES, DAILY_MEASURE_DDL, *OTHER_DDL):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION ingest.ensure_partition(text, date)")
    for table in ("column_mapping", "batch_problem", "batch", "daily_measure", *RAW_TABLES):
        op.execute(f"DROP TABLE ingest.{table}")
