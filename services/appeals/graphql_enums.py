"""What every GraphQL module of appeals shares: the resolver ``Info`` and the described enums."""

from __future__ import annotations

import strawberry

from hotline.kit.graphql import RequestContext, described_enum
from services.appeals import workflow

Info = strawberry.Info[RequestContext, None]

StatusEnum = described_enum(
    workflow.Status,
    name="AppealStatus",
    description="Where an appeal stands: draft 草稿, submitted 已提交, in_review 审核中, information_requested "
    "待补充材料, decided 已决定, escalated 已提请上级复核, withdrawn 已撤回.",
    values={
        "DRAFT": "草稿: being written by the unit; editable, not yet seen by reviewers.",
        "SUBMITTED": "已提交: filed within the appeal window; waiting for a reviewer.",
        "IN_REVIEW": "审核中: a reviewer has taken it up.",
        "INFORMATION_REQUESTED": "待补充材料: the reviewer asked the unit for more information; the reply clock runs.",
        "DECIDED": "已决定: upheld, partly upheld or rejected, with a written reason.",
        "ESCALATED": "已提请上级复核: the unit asked the parent unit to review the decision (once).",
        "WITHDRAWN": "已撤回: withdrawn by the unit before a decision.",
    },
)
OutcomeEnum = described_enum(
    workflow.Outcome,
    name="AppealOutcome",
    description="A decision: upheld 支持, partly_upheld 部分支持, rejected 驳回.",
    values={
        "UPHELD": "支持: every request of the appeal is granted; the run is recomputed as asked.",
        "PARTLY_UPHELD": "部分支持: some indicators' requests are granted, the others refused, each with a reason.",
        "REJECTED": "驳回: nothing is granted; the result stands.",
    },
)
ReasonEnum = described_enum(
    workflow.ReasonCategory,
    name="AppealReasonCategory",
    description="Why the unit disputes its result: wrong data 数据错误, wrong unit attribution 责任单位错误, formula or "
    "rule misapplied 规则适用错误, force majeure 不可抗力, other 其他.",
    values={
        "WRONG_DATA": "数据错误: records behind the score are wrong, duplicated or missing.",
        "WRONG_ATTRIBUTION": "责任单位错误: records were attributed to the wrong unit.",
        "RULE_MISAPPLIED": "规则适用错误: the indicator's formula, reference or scoring rule was misapplied.",
        "FORCE_MAJEURE": "不可抗力: events outside the unit's control (disaster, system outage) affected the data.",
        "OTHER": "其他: any other reason, explained in the appeal's text.",
    },
)
AskKindEnum = described_enum(
    workflow.RequestKind,
    name="AppealAskKind",
    description="What the unit asks for: exclude records 剔除记录, correct a value 更正数值, re-score an expert item "
    "重新评分, or (appealing a consequence of another unit's appeal) reconsider the correction that moved it.",
    values={
        "EXCLUDE_RECORDS": "剔除记录: leave the named records out of the indicator's measures.",
        "CORRECT_VALUE": "更正数值: replace the indicator's value with the one the unit gives and justifies.",
        "RESCORE_EXPERT_ITEM": "重新评分: have an expert-scored item scored again.",
        "CONTEST_CONSEQUENCE": "对连带影响提出异议: in an appeal of a consequence only — reconsider the correction of "
        "another unit's value that moved this unit's result; `value` is the value proposed for that correction "
        "(optional: the deciding unit sets it).",
    },
)
