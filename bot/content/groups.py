"""The help-menu groups and their topics, in menu order (docs/content/help-menu-groups.md).
Each group's topic answers are generated into domain/responses/topics_<group>.yml."""

from __future__ import annotations

GROUPS: dict[str, list[str]] = {
    "benefits": [
        "register_as_jobseeker",
        "benefit_apply",
        "benefit_amount",
        "benefit_report",
        "part_time_work",
        "got_a_job",
        "laid_off",
        "quit_job",
    ],
    "obligations": [
        "initial_interview",
        "employment_plan",
        "job_search_obligation",
        "job_offers",
        "job_search_profile",
        "missed_obligation",
        "appointment",
        "report_changes",
        "travel_abroad",
        "appeal_decision",
    ],
    "work_and_training": [
        "find_jobs",
        "cv_help",
        "career_guidance",
        "labour_market_training",
        "studying_while_unemployed",
        "work_trial",
        "pay_subsidy",
        "start_up_grant",
    ],
    "immigrants_and_youth": [
        "integration_services",
        "language_courses",
        "interpreter",
        "degree_recognition",
        "youth_services",
        "youth_education_obligation",
    ],
    "contact_and_support": [
        "contact_info",
        "service_area",
        "work_ability_health",
        "social_services",
    ],
}


def group_of(topic: str) -> str:
    for group, topics in GROUPS.items():
        if topic in topics:
            return group
    raise KeyError(topic)
