"""Indicator catalog (standards, dimension groupings, versioned indicators), templates and schemes.

Versioned rows are immutable: triggers refuse updates and deletes of indicator versions and
templates, and any change to a published or archived scheme version except its archiving.
The catalog's data is loaded after every migration run (``services/indicators/migrations/env.py``).

Revision ID: indicators_0002
Revises: indicators_0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "indicators_0002"
down_revision = "indicators_0001"
branch_labels = None
depends_on = None

SCHEMA = "indicators"

# asyncpg runs one statement per call: the DDL below is split on the marker lines.
IMMUTABLE = """
CREATE FUNCTION indicators.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable; make a new version instead', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
--
CREATE TRIGGER indicator_version_immutable BEFORE UPDATE OR DELETE ON indicators.indicator_version
    FOR EACH ROW EXECUTE FUNCTION indicators.refuse_change();
--
CREATE TRIGGER scheme_template_immutable BEFORE UPDATE OR DELETE ON indicators.scheme_template
    FOR EACH ROW EXECUTE FUNCTION indicators.refuse_change();
--
CREATE FUNCTION indicators.guard_scheme_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'a % scheme version cannot be deleted', OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    -- Published: only archiving is allowed, and nothing else may change with it.
    IF OLD.status = 'published' AND NEW.status = 'archived'
       AND NEW.body = OLD.body AND NEW.version = OLD.version AND NEW.scheme_id = OLD.scheme_id
       AND NEW.published_at IS NOT DISTINCT FROM OLD.published_at
       AND NEW.published_by IS NOT DISTINCT FROM OLD.published_by THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a % scheme version is immutable; edit it as a new version', OLD.status
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
--
CREATE TRIGGER scheme_version_guard BEFORE UPDATE OR DELETE ON indicators.scheme_version
    FOR EACH ROW EXECUTE FUNCTION indicators.guard_scheme_version();
"""


def upgrade() -> None:
    standard = op.create_table(
        "standard",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_standard"),
        schema=SCHEMA,
    )
    op.bulk_insert(
        standard,
        [
            {
                "code": "gb12345",
                "name_zh": "12345政务服务便民热线服务质量评价规范",
                "name_en": "12345 government-service hotline service quality evaluation specification",
                "source": "seed 002, section 6 and appendix A",
            }
        ],
    )
    op.add_column(
        "dimension", sa.Column("standard", sa.Text(), nullable=False, server_default="gb12345"), schema=SCHEMA
    )
    op.alter_column("dimension", "standard", server_default=None, schema=SCHEMA)
    op.create_foreign_key(
        "fk_dimension_standard_standard", "dimension", "standard", ["standard"], ["code"],
        source_schema=SCHEMA, referent_schema=SCHEMA,
    )  # fmt: skip
    op.drop_constraint("uq_dimension_position", "dimension", schema=SCHEMA)
    op.create_unique_constraint("uq_dimension_standard_position", "dimension", ["standard", "position"], schema=SCHEMA)

    op.create_table(
        "indicator",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("standard", sa.Text(), sa.ForeignKey("indicators.standard.code"), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_indicator"),
        schema=SCHEMA,
    )
    op.create_table(
        "indicator_version",
        sa.Column("code", sa.Text(), sa.ForeignKey("indicators.indicator.code"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Text(), sa.ForeignKey("indicators.dimension.code"), nullable=False),
        sa.Column("clause", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("band", postgresql.JSONB(), nullable=True),
        sa.Column("levels", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("formula", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name="pk_indicator_version"),
        sa.CheckConstraint("method IN ('system','sampling','reported_expert')", name="method_known"),
        sa.CheckConstraint("direction IN ('higher_better','lower_better','target_band')", name="direction_known"),
        sa.CheckConstraint("(method = 'reported_expert') = (formula IS NULL)", name="formula_iff_measured"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        schema=SCHEMA,
    )
    op.create_table(
        "scheme_template",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("body_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name="pk_scheme_template"),
        schema=SCHEMA,
    )
    op.create_table(
        "scheme",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("organizer_id", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheme"),
        sa.UniqueConstraint("organizer_id", "code", name="uq_scheme_organizer_id_code"),
        schema=SCHEMA,
    )
    op.create_table(
        "scheme_version",
        sa.Column("scheme_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.Text(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scheme_id", "version", name="pk_scheme_version"),
        sa.ForeignKeyConstraint(["scheme_id"], ["indicators.scheme.id"], name="fk_scheme_version_scheme_id_scheme"),
        sa.CheckConstraint("status IN ('draft','published','archived')", name="status_known"),
        sa.CheckConstraint("(status = 'draft') = (published_at IS NULL)", name="published_iff_not_draft"),
        schema=SCHEMA,
    )
    # At most one draft per scheme: an edit of a published scheme opens exactly one new version.
    op.create_index(
        "uq_scheme_version_one_draft", "scheme_version", ["scheme_id"], unique=True,
        postgresql_where=sa.text("status = 'draft'"), schema=SCHEMA,
    )  # fmt: skip
    for statement in IMMUTABLE.split("\n--\n"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER scheme_version_guard ON indicators.scheme_version")
    op.execute("DROP FUNCTION indicators.guard_scheme_version()")
    op.drop_table("scheme_version", schema=SCHEMA)
    op.drop_table("scheme", schema=SCHEMA)
    op.drop_table("scheme_template", schema=SCHEMA)
    op.drop_table("indicator_version", schema=SCHEMA)
    op.execute("DROP FUNCTION indicators.refuse_change()")
    op.drop_table("indicator", schema=SCHEMA)
    op.execute("DELETE FROM indicators.dimension WHERE standard <> 'gb12345'")
    op.drop_constraint("uq_dimension_standard_position", "dimension", schema=SCHEMA)
    op.create_unique_constraint("uq_dimension_position", "dimension", ["position"], schema=SCHEMA)
    op.drop_constraint("fk_dimension_standard_standard", "dimension", schema=SCHEMA)
    op.drop_column("dimension", "standard", schema=SCHEMA)
    op.drop_table("standard", schema=SCHEMA)
