"""Evaluation dimensions: the seven of the 12345 standard (spec section 6), seeded.

Revision ID: indicators_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "indicators_0001"
down_revision = None
branch_labels = ("indicators",)
depends_on = None

SCHEMA = "indicators"

DIMENSIONS = [
    (
        "service_response",
        1,
        "6.1",
        "服务响应",
        "Service response",
        "How quickly and reliably the hotline answers: answer rate, average answer wait, wait of unanswered "
        "calls, ring and talk time, online chat and smart-service response, IVR navigation time.",
    ),
    (
        "accuracy",
        2,
        "6.2",
        "服务准确性",
        "Service accuracy",
        "Whether answers and dispatch are right: answer accuracy by inspection, smart-service answer accuracy, "
        "dispatch timeliness and precise dispatch, requests still sent back to the original department.",
    ),
    (
        "standardization",
        3,
        "6.3",
        "服务规范性",
        "Service standardization",
        "Agents' attitude, professionalism and expression, and work-order quality: inspection pass rate and "
        "average order submission time.",
    ),
    (
        "efficiency",
        4,
        "6.4",
        "服务效率",
        "Service efficiency",
        "Speed of resolution, emergency surge support and callback completion rate.",
    ),
    (
        "satisfaction",
        5,
        "6.5",
        "服务满意度",
        "Satisfaction",
        "Satisfaction with the hotline's service and with the undertaking unit's outcome, first-contact rate, "
        "and the analysis and follow-up of dissatisfaction.",
    ),
    (
        "resolution_quality",
        6,
        "6.6",
        "问题解决质量",
        "Resolution quality",
        "Direct-handling rate and accuracy, on-time, overall and supervised closure, first-time closure, "
        "average resolution time, requests per 10,000 residents, reply completeness, returns for redo.",
    ),
    (
        "innovation",
        7,
        "6.7",
        "服务创新能力",
        "Service innovation",
        "New technology, proactive services, service variety, linkage with grid and enforcement units, "
        "personalised service; scored by experts.",
    ),
]


def upgrade() -> None:
    dimension = op.create_table(
        "dimension",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("clause", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_dimension"),
        sa.UniqueConstraint("position", name="uq_dimension_position"),
        schema=SCHEMA,
    )
    op.bulk_insert(
        dimension,
        [
            dict(zip(("code", "position", "clause", "name_zh", "name_en", "description"), row, strict=True))
            for row in DIMENSIONS
        ],
    )


def downgrade() -> None:
    op.drop_table("dimension", schema=SCHEMA)
