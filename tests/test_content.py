"""The content sources (content/) against the catalogue and the generated domain.

Each fact the catalogue corrected is checked in every language by what does not depend on
the wording: figures, names and links (a link counts in any confirmed language version).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from bot.content.build import answer_sources, language_styles, localize_links, stale_files
from bot.content.catalogue import source_urls, topic_digest, topics
from bot.content.currency import currency_rows
from bot.content.groups import GROUPS
from bot.content.links import URL, all_versions, choose_version, link_map, linkable_versions, source_language
from bot.content.paths import RESPONSES_DIR
from bot.language.catalog import load_catalog

LANGUAGES = load_catalog().supported


def rendered(topic: str) -> dict[str, str]:
    """language -> the answer text Rasa says, from the committed domain."""
    group = next(g for g, names in GROUPS.items() if topic in names)
    data = yaml.safe_load((RESPONSES_DIR / f"topics_{group}.yml").read_text(encoding="utf-8"))
    return {v["condition"][0]["value"]: v["text"] for v in data["responses"][f"utter_{topic}"]}


def versions_of(source: str) -> set[str]:
    return {v.url for v in link_map()[source].values()}


def links_in(text: str) -> set[str]:
    return set(URL.findall(text))


def test_generated_responses_are_up_to_date_with_their_sources() -> None:
    assert stale_files() == [], "run: python -m scripts.build_content"


# --- the link map -----------------------------------------------------------------------------


def test_every_catalogue_source_is_in_the_link_map_with_its_own_page() -> None:
    assert set(link_map()) == source_urls()
    for source in source_urls():
        assert source_language(source) in link_map()[source]


def test_every_map_version_is_confirmed_and_titled() -> None:
    for version in all_versions():
        assert version.url.startswith(("http://", "https://")), version
        assert version.site and version.title, version
        assert version.confirmed_via, version
        dt.date.fromisoformat(version.confirmed_date)


def test_a_version_in_another_language_was_seen_in_a_stored_copy() -> None:
    """Only the catalogue's own page may be vouched for by the catalogue; every added language
    version was seen published (its page title is recorded)."""
    for version in all_versions():
        if version.url != version.source:
            assert "catalogue" not in version.confirmed_via and version.page_title, version


def test_every_stored_copy_confirmation_names_its_search_and_the_stored_page() -> None:
    """A confirmation from a stored copy records the query that found it and the address it was
    stored at, so anyone can repeat the check."""
    stored = [v for v in all_versions() if "catalogue" not in v.confirmed_via]
    assert len(stored) >= 40
    for version in stored:
        assert version.confirmed_via.startswith("search pages corpus: "), version
        assert version.seen.startswith(("http://", "https://")), version
        assert version.page_title, version


def test_an_earlier_edition_is_kept_as_evidence_but_never_linked() -> None:
    """A stored copy that predates the catalogue's page (different facts) must not be linked, even
    for a reader of its language."""
    earlier = [v for v in all_versions() if not v.current]
    assert earlier, "the map records earlier editions (InfoFinland sv, Työmarkkinatori fi/sv)"
    for version in earlier:
        assert version.note, version
        assert choose_version(version.source, version.language) != version
        for topic in topics():
            for text in rendered(topic).values():
                assert version.url not in text, (topic, version.url)


@pytest.mark.parametrize("code", ["fi", "sv"])
def test_finnish_and_swedish_answers_link_to_their_own_language_wherever_the_site_has_it(code: str) -> None:
    checked = 0
    for topic in topics():
        text = rendered(topic)[code]
        for source in links_in(answer_sources(topic)[code]):
            own = linkable_versions(source).get(code)
            if own is None:
                continue
            checked += 1
            assert own.url in links_in(text), (topic, code, own.url)
            if own.url != source:
                assert source not in links_in(text), (topic, code, source)
    assert checked >= {"fi": 15, "sv": 12}[code]


def test_a_page_in_another_language_is_named_in_the_readers_language() -> None:
    source = "http://kela.fi/web/en/unemployment"  # Kela publishes no Finnish copy in the map
    for code in LANGUAGES:
        version = choose_version(source, code)
        text = localize_links(f"More: {source}", code)
        if version.language == code:
            assert text == f"More: {version.url}", code
        else:
            assert language_styles()[code].page_language[version.language] in text, code
    assert "(englanniksi)" in localize_links(source, "fi")
    assert localize_links(source, "sv") == "https://www.kela.fi/arbetsloshet"


def test_answer_sources_link_only_to_the_catalogue() -> None:
    for topic in topics():
        for code, text in answer_sources(topic).items():
            assert links_in(text) <= source_urls(), (topic, code)


# --- review dates and currency ----------------------------------------------------------------


def test_every_topic_has_its_answers_in_every_language() -> None:
    for topic in topics():
        assert set(answer_sources(topic)) == set(LANGUAGES), topic


def test_answer_sources_do_not_type_the_review_line() -> None:
    for topic in topics():
        for code, text in answer_sources(topic).items():
            prefix = language_styles()[code].reviewed.split("{date}")[0].strip()
            assert prefix not in text, (topic, code)


def test_the_review_date_comes_from_one_place(tmp_path, monkeypatch) -> None:
    import bot.content.build as build

    reviewed = tmp_path / "reviewed.yml"
    data = yaml.safe_load(build.REVIEWED_FILE.read_text(encoding="utf-8"))
    data["topics"]["appeal_decision"]["reviewed"] = dt.date(2027, 3, 1)
    reviewed.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setattr(build, "REVIEWED_FILE", reviewed)
    text = yaml.safe_load(build.render_group("obligations"))["responses"]["utter_appeal_decision"]
    lines = {v["condition"][0]["value"]: v["text"].splitlines()[-1] for v in text}
    assert lines["fi"] == "Tiedot tarkistettu 1.3.2027"
    assert lines["en"] == "Last reviewed: 1 Mar 2027"
    assert lines["zh"] == "信息核对日期：2027年3月1日"


def test_currency_flags_old_reviews_and_catalogue_changes() -> None:
    rows = {r.topic: r for r in currency_rows(today=dt.date(2027, 6, 1))}
    assert len(rows) == len(topics())
    volatile = rows["benefit_amount"]
    assert volatile.volatile and volatile.volatile_facts and volatile.max_age_days == 90 and volatile.overdue
    stable = rows["cv_help"]
    assert not stable.volatile and stable.volatile_facts == () and stable.max_age_days == 365
    assert not stable.overdue
    today = {r.topic: r for r in currency_rows(today=dt.date(2026, 12, 6))}
    assert not any(r.catalogue_changed for r in today.values())
    assert all(r.catalogue_changed is False for r in rows.values())


def test_a_changed_catalogue_entry_shows_in_the_currency_report(monkeypatch) -> None:
    import bot.content.catalogue as catalogue_module
    import bot.content.currency as currency

    changed = {name: dict(entry) for name, entry in topics().items()}
    changed["cv_help"]["facts"] = changed["cv_help"]["facts"] + ["A new fact."]
    monkeypatch.setattr(currency, "topics", lambda: changed)
    monkeypatch.setattr(
        currency, "topic_digest", lambda name: catalogue_module.topic_digest(name) if name != "cv_help" else "changed"
    )
    rows = {r.topic: r for r in currency.currency_rows(today=dt.date(2026, 12, 6))}
    assert rows["cv_help"].catalogue_changed and rows["cv_help"].needs_review
    assert not rows["appeal_decision"].catalogue_changed


def test_the_content_check_prints_a_report_and_never_fails(capsys) -> None:
    from scripts.content_check import main

    assert main(["--summary", "--today", "2027-06-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Content check: 36 topics, 11 volatile,")
    assert "benefit_amount: RE-CHECK: older than 90 days" in out
    assert main([]) == 0
    assert "37.21 euro a day" in capsys.readouterr().out  # the volatile facts are listed


def test_recording_a_review_sets_date_and_fingerprint(tmp_path, monkeypatch) -> None:
    import scripts.content_check as check

    copy = tmp_path / "reviewed.yml"
    copy.write_text(check.REVIEWED_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(check, "REVIEWED_FILE", copy)
    check.record_review("cv_help", dt.date(2027, 1, 2))
    entry = yaml.safe_load(copy.read_text(encoding="utf-8"))["topics"]["cv_help"]
    assert entry == {"reviewed": dt.date(2027, 1, 2), "catalogue": topic_digest("cv_help")}
    assert copy.read_text(encoding="utf-8").startswith("# When each topic")


# --- every corrected fact in every language ---------------------------------------------------

# A figure in any of the ways the twelve languages write it.
DATE_1_SEP_2026 = re.compile(r"1\.9\.2026|1 Sep 2026|1 сентября 2026|2026 年 9 月 1 日")
DATE_3_FEB_2026 = re.compile(r"3\.2\.2026|3 Feb 2026|2026 年 2 月 3 日")
DATE_1_JAN_2026 = re.compile(r"1\.1\.2026|1 Jan 2026|2026 年 1 月 1 日")
FIVE_THOUSAND = re.compile(r"5[ ,.\u00a0]?000")


def number(n: int) -> re.Pattern:
    return re.compile(rf"(?<![\d.,]){n}(?![\d])")


# topic -> (catalogue sources every language must link to, figures every language must carry)
CHANGED_FACTS: dict[str, tuple[list[str], list[re.Pattern]]] = {
    "register_as_jobseeker": (["http://kela.fi/web/en/unemployment"], []),
    "benefit_apply": (
        ["https://www.ytkkassa.fi/en/income-security/earnings-related-daily-allowance/waiting-period/"],
        [number(7)],
    ),
    "benefit_amount": (
        ["https://www.kela.fi/laskurit"],
        [re.compile(r"37[.,]21"), number(40), number(80), number(170), number(75)],
    ),
    "job_offers": (
        ["https://tyomarkkinatori.fi/en/instructions-and-support/personal-customers/"
         "instructions-for-the-e-services-at-job-market-finland/tyotarjous"],
        [],
    ),
    "job_search_profile": (
        ["https://tyomarkkinatori.fi/en/news/tyollisyyspalveluja_koskevat_lakiuudistukset_vuonna_2026_",
         "https://tyomarkkinatori.fi/en/instructions-and-support/personal-customers/instructions-for-the-my-job-path-"
         "section/independent-job-search/how-to-fill-in-your-job-applicant-profile"],
        [DATE_1_SEP_2026],
    ),
    "quit_job": (["https://ytkkassa.fi/?p=5072"], [number(45), number(30), number(3)]),
    "contact_info": (
        ["https://tyomarkkinatori.fi/en/instructions-and-support/personal-customers/"
         "instructions-for-the-e-services-at-job-market-finland/start-of-job-search"],
        [re.compile(r"\{espoo_services_url\}")],
    ),
    "youth_services": (
        ["https://oecd.org/en/publications/oecd-youth-policy-toolkit_41fab624-en/"
         "one-stop-guidance-centres-for-young-people-finland_a70d9c6b-en.html"],
        [number(30), number(2025), re.compile("Ohjaamo"), re.compile(r"\{espoo_services_url\}")],
    ),
    "youth_education_obligation": (
        ["https://www.sttinfo.fi/tiedote/71818392/nuori-hae-opiskelupaikkaa-se-voi-vaikuttaa-myos-"
         "mahdollisuuteesi-saada-tyottomyystukea?lang=fi"],
        [number(25), re.compile(r"2026"), re.compile("lukio|gymnasiet|upper secondary")],
    ),
    "cv_help": (["https://tyomarkkinatori.fi/en/personal-customers/situations/i-am-returning-to-work"], []),
    "pay_subsidy": (
        ["https://www.sttinfo.fi/tiedote/71784307/espoo-tukee-tyonantajia-uudet-rekrytointituet-haettavissa-"
         "322026?lang=fi"],
        [FIVE_THOUSAND, DATE_3_FEB_2026, number(30), number(12), number(80), number(50), number(2026),
         re.compile("Espoo-lisä|Esbotillägget")],
    ),
    "start_up_grant": (
        ["https://tyomarkkinatori.fi/en/more-information-about-services/start-up-grant"],
        [number(6), number(12)],
    ),
    "work_trial": (["https://lappeenranta.fi/en/services/work-try-out"], [number(6)]),
    "social_services": (
        ["https://www.kela.fi/faq-social-assistance", "https://www.luvn.fi/en/lunna-digital-services-platform"],
        [re.compile("Lunna"), re.compile("OmaKela|MittFPA"), re.compile("LUVN")],
    ),
    "travel_abroad": (
        ["https://www.kela.fi/suomesta-ulkomaille-tyonhakijat",
         "https://www.kela.fi/web/en/from-finland-to-another-country-to-look-for-work"],
        [],
    ),
    "appeal_decision": (
        ["https://www.kela.fi/web/en/appeal-procedure",
         "https://www.sttinfo.fi/tiedote/71700931/suomen-suurimpiin-virastoihin-kuuluva-uusi-lupa-ja-"
         "valvontavirasto-aloittaa-112026?lang=fi"],
        [number(30), number(37), DATE_1_JAN_2026, re.compile("Lupa- ja valvontavirasto")],
    ),
}


@pytest.mark.parametrize("topic", sorted(CHANGED_FACTS))
def test_every_corrected_fact_is_in_every_language(topic: str) -> None:
    sources, figures = CHANGED_FACTS[topic]
    answers = rendered(topic)
    assert set(answers) == set(LANGUAGES)
    for code, text in answers.items():
        body = "\n".join(text.splitlines()[:-1])  # without the review line
        for source in sources:
            assert links_in(body) & versions_of(source), (topic, code, source)
        prose = URL.sub("", body)
        for figure in figures:
            assert figure.search(prose), (topic, code, figure.pattern)


# Links the corrected catalogue dropped: no answer may keep them.
DROPPED_LINKS = [
    "https://www.eduskunta.fi/valtiopaivaasiakirjat/HE+108/2025",
    "https://tem.fi/en/public-employment-services-for-private-customers",
    "https://ohje.te-palvelut.fi/hloasiakas/sv/omatyonhakumuutos/palvelunkuvaus/ulkomaanmatka",
    "https://www.espoo.fi/en-US/Culture_and_sport/Hunting_for_a_dream_job__Ohjaamotalo_One(171016)",
    "https://www.luvn.fi/en/news/2025/05/formation-service-area-family-and-disability-services",
    "https://www.suomi.fi/services/organising-a-work-trial-at-a-workplace-te-office/60c1a83b-9fbe-452e-b8ce-5706ec699897",
]


def test_no_answer_keeps_a_link_the_catalogue_dropped() -> None:
    for topic in topics():
        for code, text in rendered(topic).items():
            for dropped in DROPPED_LINKS:
                assert dropped not in text, (topic, code, dropped)


def test_social_services_no_longer_link_kelas_unemployment_page() -> None:
    for code, text in rendered("social_services").items():
        assert not links_in(text) & versions_of("http://kela.fi/web/en/unemployment"), code


def test_work_trial_no_longer_gives_the_12_month_total() -> None:
    for code, text in rendered("work_trial").items():
        body = "\n".join(text.splitlines()[:-1])  # the review line may hold a 12 (December)
        assert not number(12).search(URL.sub("", body)), code


# --- audit items ------------------------------------------------------------------------------


def test_english_calls_karenssi_a_period_without_benefit() -> None:
    for topic in topics():
        text = rendered(topic)["en"]
        if "karenssi" in text:
            assert "period without benefit" in text, topic
            assert "waiting period" not in text, topic


def test_somali_benefit_amount_says_80_percent_of_the_full_amount() -> None:
    text = rendered("benefit_amount")["so"]
    assert "80% qaddarka buuxa" in text
    assert "qaddarkii hore" not in text


def test_the_unsupported_language_answer_offers_an_adviser_and_never_an_interpreter() -> None:
    data = yaml.safe_load((RESPONSES_DIR / "unsupported_language.yml").read_text(encoding="utf-8"))
    (variation,) = data["responses"]["utter_unsupported_language"]
    words = (variation["text"] + " ".join(b["title"] for b in variation["buttons"])).lower()
    assert "interpreter" not in words and "tulk" not in words
    assert "/request_human" in [b["payload"] for b in variation["buttons"]]
