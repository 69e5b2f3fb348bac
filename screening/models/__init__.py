"""The screening app's models, one module per topic; all importable from here."""

from screening.models.assignments import (
    EditorialNotice,
    NoticeKind,
    RetractionCheck,
    ScreeningAssignment,
)
from screening.models.connectors import (
    ConnectorSource,
    RunStatus,
    SavedSearch,
    SavedSearchRun,
    Schedule,
    SearchMethod,
)
from screening.models.dedup import (
    DuplicatePair,
    PairDecision,
)
from screening.models.discussion import (
    Comment,
)
from screening.models.fulltext import (
    FullTextReport,
    OaOutcome,
    OaResult,
    OaRun,
    PdfBatch,
    PdfBatchStatus,
    PdfFile,
    PdfMatch,
    RetrievalStatus,
)
from screening.models.identification import (
    MergeKind,
    OtherMethod,
    Record,
    RecordQuerySet,
    Search,
    SearchQuerySet,
    SearchStatus,
    SourceType,
)
from screening.models.labels import (
    LABEL_KEYS,
    Label,
    LabelColour,
    RecordLabel,
)
from screening.models.prioritisation import (
    RankingRun,
    RankingStatus,
    RelevanceScore,
    StoppingDecision,
)
from screening.models.prisma import (
    PrismaSettings,
    RoundPrismaCounts,
)
from screening.models.questions import (
    Answer,
    QuestionAnswer,
    ScreeningQuestion,
)
from screening.models.rounds import (
    UpdateRound,
)
from screening.models.screening import (
    Adjudicators,
    Claim,
    Conflict,
    Decision,
    Outcome,
    OutcomeKind,
    PilotRound,
    PilotVote,
    ReservedVote,
    ScreeningState,
    Stage,
    StageOrder,
    StageSettings,
    Vote,
)

__all__ = [
    "SourceType",
    "OtherMethod",
    "SearchStatus",
    "SearchQuerySet",
    "Search",
    "MergeKind",
    "RecordQuerySet",
    "Record",
    "PairDecision",
    "DuplicatePair",
    "Stage",
    "Decision",
    "Adjudicators",
    "StageOrder",
    "StageSettings",
    "Vote",
    "OutcomeKind",
    "Outcome",
    "Conflict",
    "Claim",
    "ReservedVote",
    "ScreeningState",
    "PilotRound",
    "PilotVote",
    "RetrievalStatus",
    "FullTextReport",
    "PdfBatch",
    "PdfBatchStatus",
    "PdfFile",
    "PdfMatch",
    "PrismaSettings",
    "RoundPrismaCounts",
    "RankingStatus",
    "RankingRun",
    "RelevanceScore",
    "StoppingDecision",
    "LABEL_KEYS",
    "LabelColour",
    "Label",
    "RecordLabel",
    "ConnectorSource",
    "RunStatus",
    "SavedSearch",
    "SavedSearchRun",
    "Schedule",
    "SearchMethod",
    "UpdateRound",
    "Answer",
    "ScreeningQuestion",
    "QuestionAnswer",
    "Comment",
    "ScreeningAssignment",
    "NoticeKind",
    "EditorialNotice",
    "RetractionCheck",
    "OaRun",
    "OaOutcome",
    "OaResult",
]
