"""The catalogue itself: every family has its module, every attack runs at tier A in the default run, every
tier that cannot promise an outcome says why, and README shows the outcome table the script produced."""

from pathlib import Path

from tests.student.attacks.catalogue import ATTACKS, FAMILIES, ROOT, source

HERE = Path(__file__).parent
SANDBOX_MD = ("infinite_loop", "busy_numpy", "sleeps_forever", "allocates_10gb", "fork_bomb", "threads_3000",
              "setsid_daemon", "file_5gb", "many_60mib_files", "shm_3gb", "socket_loopback", "socket_other_address",
              "read_grader_files", "plant_site_packages", "monkeypatch_numpy", "prints_gigabytes", "nan_gradient",
              "inf_gradient", "wrong_shape", "object_array", "forged_pickle", "forged_frame_80gb", "zip_bomb",
              "kill_parent", "kill_minus_one", "exits_at_import", "os_exit_at_import", "imports_jax",
              "imports_torch", "honest_py", "honest_ipynb")


def test_every_attack_sandbox_md_lists_is_in_the_catalogue():
    assert sorted(SANDBOX_MD) == sorted(set(SANDBOX_MD) & {a.name for a in ATTACKS})


def test_every_family_has_its_own_test_module():
    assert all((HERE / f"test_{family}.py").exists() for family in FAMILIES)


def test_every_attack_runs_at_tier_a_by_default_and_every_lost_tier_says_why():
    for attack in ATTACKS:
        assert "A" not in attack.slow_tiers and "A" not in attack.lost and "A" not in attack.unsafe, attack.name
        assert all(len(why) > 20 for why in (*attack.lost.values(), *attack.unsafe.values())), attack.name


def test_every_prelude_gets_all_its_tokens():
    tokens = {k: "1" for k in ("TCP_PORT", "UDP_PORT", "MARK", "SECRET", "SECRET_PATH", "GRADER_PID", "GRADER_UID",
                               "GRADER_SOURCE", "HOST_PIDNS", "SHM_BYTES")}
    for attack in (a for a in ATTACKS if a.suffix == ".py"):
        compile(source(attack, tokens), attack.name, "exec")  # SyntaxError: a token left in, or a broken prelude


def test_readme_shows_the_outcome_table_that_benchmarks_attacks_py_wrote():
    table = (ROOT / "benchmarks" / "results" / "attacks.md").read_text()
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- attacks:start -->\n")[1].split("<!-- attacks:end -->")[0]
    assert shown == table
