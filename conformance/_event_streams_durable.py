"""(being written)"""
import pytest
@pytest.mark.rule("ST-10")
def test_st10_emit_returns_after_the_event_is_durable(lifecycle_kit): pytest.skip("wip")
@pytest.mark.rule("ST-10")
def test_st10_restart_brings_back_events_cursors_and_state(lifecycle_kit): pytest.skip("wip")
@pytest.mark.rule("ST-10")
def test_st10_sigkill_of_a_writer_loses_no_emitted_event(lifecycle_kit): pytest.skip("wip")
@pytest.mark.rule("ST-11")
def test_st11_corrupt_middle_record_is_a_clear_error(lifecycle_kit): pytest.skip("wip")
@pytest.mark.rule("ST-11")
def test_st11_second_writer_is_refused(lifecycle_kit): pytest.skip("wip")
@pytest.mark.rule("ST-11")
def test_st11_torn_last_record_is_dropped(lifecycle_kit): pytest.skip("wip")
