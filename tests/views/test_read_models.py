"""One read model per concept (issue 23): REST and GraphQL show the same fields of each object.

Each door declares its own type (the OpenAPI and SDL contracts), filled from the concept's read
model by field name. These tests fail when a door's type lacks a field of the read model (the
drift the read models ended: GraphQL jobs without latest metrics, REST algorithms without their
defaults) and when an object reads differently through the two doors.
"""

from __future__ import annotations

import dataclasses

import pytest
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_snake_case

from backend.accounts.views import TokenView, UserView
from backend.algorithms.views import AlgorithmView
from backend.api.graphql import accounts as gql_accounts
from backend.api.graphql import classes as gql_classes
from backend.api.graphql import datasets as gql_datasets
from backend.api.graphql import explorer as gql_explorer
from backend.api.graphql import feature_report as gql_features
from backend.api.graphql import fresh as gql_fresh
from backend.api.graphql import guided as gql_guided
from backend.api.graphql import items as gql_items
from backend.api.graphql import jobs as gql_jobs
from backend.api.graphql import labels as gql_labels
from backend.api.graphql import next_actions as gql_next
from backend.api.graphql import review as gql_review
from backend.api.graphql.schema import build_schema
from backend.api.rest import accounts as rest_accounts
from backend.api.rest import explorer as rest_explorer
from backend.api.rest import feature_report as rest_features
from backend.api.rest import fresh as rest_fresh
from backend.api.rest import guided as rest_guided
from backend.api.rest import jobs as rest_jobs
from backend.api.rest import next_actions as rest_next
from backend.api.rest import review as rest_review
from backend.api.rest import schemas as rest
from backend.api.rest import stopping as rest_stopping
from backend.datasets.ingest import ScanReport
from backend.datasets.views import DatasetView, ItemView, SourceView
from backend.explorer.service import SelectionSummary
from backend.explorer.views import ProjectionView
from backend.feature_report.service import TrainSuggestion
from backend.feature_report.views import ClassScoreView, FeatureReportView, ModelScoreView
from backend.guided.heldout import BatchEstimate
from backend.guided.next_actions import Suggestion
from backend.guided.quality import ModelFitness
from backend.guided.trust import Suspect, SuspectPage
from backend.guided.views import (
    BatchFlagsView,
    NextActionsView,
    ProbabilityCandidateView,
    ProbabilityPageView,
    SimilarPageView,
    StoppingEstimateView,
)
from backend.jobs.fresh import FreshSettings
from backend.jobs.next_step import NextStep
from backend.jobs.views import JobView, LogLineView, ModelView
from backend.labels.views import ClassView, EventView, ProgressView, TagView
from tests.helpers.graphql import gql
from tests.helpers.rest import create_dataset

# (read model, REST struct, GraphQL type)
DOORS = [
    (AlgorithmView, rest_jobs.AlgorithmOut, gql_jobs.Algorithm),
    (JobView, rest_jobs.JobOut, gql_jobs.Job),
    (LogLineView, rest_jobs.LogLineOut, gql_jobs.LogLine),
    (ModelView, rest_jobs.ModelOut, gql_jobs.Model),
    (ModelFitness, rest.FitnessOut, gql_review.ModelFitness),
    (DatasetView, rest.DatasetOut, gql_datasets.Dataset),
    (SourceView, rest.SourceOut, gql_datasets.Source),
    (ItemView, rest.ItemOut, gql_items.Item),
    (ClassView, rest.ClassOut, gql_classes.LabelClass),
    (EventView, rest.EventOut, gql_labels.TagEvent),
    (TagView, rest.TagOut, gql_labels.Tag),
    (ProgressView, rest.ProgressOut, gql_labels.Progress),
    (SimilarPageView, rest_guided.SimilarPageOut, gql_guided.SimilarPage),
    (ProbabilityPageView, rest_guided.ProbabilityPageOut, gql_guided.ProbabilityPage),
    (ProbabilityCandidateView, rest_guided.CandidateOut, gql_guided.ProbabilityCandidate),
    (BatchEstimate, rest_guided.EstimateOut, gql_review.BatchEstimate),
    (BatchFlagsView, rest_review.BatchFlagsOut, gql_review.BatchFlags),
    (SuspectPage, rest_review.SuspectPageOut, gql_review.LabelSuspectPage),
    (Suspect, rest_review.SuspectOut, gql_review.LabelSuspect),
    (StoppingEstimateView, rest_stopping.StoppingEstimateOut, gql_fresh.StoppingEstimate),
    (NextActionsView, rest_next.NextActionsOut, gql_next.NextActions),
    (Suggestion, rest_next.SuggestionOut, gql_next.Suggestion),
    (FreshSettings, rest_fresh.FreshOut, gql_fresh.KeepFresh),
    (NextStep, rest_fresh.NextStepOut, gql_fresh.NextStep),
    (FeatureReportView, rest_features.FeatureReportOut, gql_features.FeatureReport),
    (ModelScoreView, rest_features.ModelScoreOut, gql_features.ModelScore),
    (ClassScoreView, rest_features.ClassScoreOut, gql_features.ClassScore),
    (TrainSuggestion, rest_features.TrainSuggestionOut, gql_features.TrainingSuggestion),
    (ScanReport, rest.ScanReportOut, gql_datasets.ScanReport),
    (SelectionSummary, rest_explorer.SelectionOut, gql_explorer.SelectionSummary),
    (ProjectionView, rest_explorer.ProjectionOut, gql_explorer.Projection),
    (UserView, rest_accounts.UserOut, gql_accounts.User),
    (TokenView, rest_accounts.UserTokenOut, gql_accounts.ApiTokenInfo),
]


@pytest.fixture(scope="module")
def schema():
    return build_schema()


def _graphql_fields(schema, cls: type) -> set[str]:
    """The fields GraphQL shows of the type (private ones left out), as Python names."""
    name = get_object_definition(cls, strict=True).name
    return {to_snake_case(n) for n in schema._schema.type_map[name].fields}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("view", "rest_struct", "gql_type"), DOORS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_door_shows_every_field_of_the_read_model(schema, view, rest_struct, gql_type):
    fields = {f.name for f in dataclasses.fields(view)}
    assert fields - set(rest_struct.__struct_fields__) == set(), f"REST {rest_struct.__name__} lacks them"
    assert fields - _graphql_fields(schema, gql_type) == set(), f"GraphQL {gql_type.__name__} lacks them"
    # And neither door shows a field its read model does not have.
    assert set(rest_struct.__struct_fields__) - fields <= DOOR_ONLY.get(rest_struct.__name__, set())
    assert _graphql_fields(schema, gql_type) - fields <= DOOR_ONLY.get(gql_type.__name__, set())


# GraphQL fields that follow a link (resolved on demand) rather than show a value of the object.
DOOR_ONLY = {
    "Job": {"metrics", "log"},
    "Dataset": {"sources", "classes", "progress", "items", "events", "fresh", "stopping_estimate"},
    "Item": {"location", "image_url", "history"},
    "TagEvent": {"tags"},
    "UserTokenOut": {"user"},  # whose token it is: the door knows, the token row holds an id
    "ApiTokenInfo": {"user"},
    "Projection": {"points"},  # deprecated: the page's columns as one object per point (decision 0016)
}


async def test_both_doors_read_the_same_training_suggestion_and_keep_fresh(client, folder):
    """Two read models no other test reads through both doors: the same values, by field name."""
    dataset_id = (await create_dataset(client, folder, count=3))["dataset"]["id"]
    rest_suggestion = (await client.get(f"/api/v1/datasets/{dataset_id}/training-suggestion")).json()
    rest_fresh = (await client.get(f"/api/v1/datasets/{dataset_id}/keep-fresh")).json()
    query = (
        "query($d: Int!) { trainingSuggestion(datasetId: $d) "
        "{ algorithm reason untrained runReport formDefault } "
        "keepFresh(datasetId: $d) { datasetId keepModelsFresh growth since } }"
    )
    data = await gql(client, query, {"d": dataset_id})
    assert rest_suggestion["reason"] and rest_suggestion == {
        "algorithm": data["trainingSuggestion"]["algorithm"],
        "reason": data["trainingSuggestion"]["reason"],
        "untrained": data["trainingSuggestion"]["untrained"],
        "run_report": data["trainingSuggestion"]["runReport"],
        "form_default": data["trainingSuggestion"]["formDefault"],
    }
    assert rest_fresh == {
        "dataset_id": dataset_id,
        "keep_models_fresh": data["keepFresh"]["keepModelsFresh"],
        "growth": data["keepFresh"]["growth"],
        "since": data["keepFresh"]["since"],
    }
    assert data["keepFresh"]["datasetId"] == dataset_id
