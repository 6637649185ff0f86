from hypothesis import given
from hypothesis import strategies as st

from store import tokens


def test_a_minted_token_carries_its_type_prefix_and_enough_randomness():
    new = tokens.mint(tokens.PAT_TYPE)
    assert new.secret.startswith("rbpat_")
    random_part = new.secret[len("rbpat_") : -tokens.CHECKSUM_LENGTH]
    # 30 base62 characters = 178 bits
    assert len(random_part) == 30
    assert new.prefix == new.secret[: len("rbpat_") + 8]


def test_only_a_sha256_hash_of_the_token_is_kept():
    new = tokens.mint(tokens.API_KEY_TYPE)
    assert new.token_hash == tokens.hash_token(new.secret)
    assert len(new.token_hash) == 64
    assert new.secret not in new.token_hash


def test_two_minted_tokens_differ():
    assert tokens.mint(tokens.PAT_TYPE).secret != tokens.mint(tokens.PAT_TYPE).secret


def test_a_well_formed_token_passes_its_checksum():
    new = tokens.mint(tokens.PAT_TYPE)
    assert tokens.is_well_formed(new.secret, tokens.PAT_TYPE)
    assert not tokens.is_well_formed(new.secret, tokens.API_KEY_TYPE)


@given(st.integers(min_value=6, max_value=41), st.sampled_from(tokens.ALPHABET))
def test_a_single_mistyped_character_is_rejected_without_a_lookup(position, replacement):
    secret = tokens.mint(tokens.PAT_TYPE).secret
    if secret[position] == replacement:
        return
    typo = secret[:position] + replacement + secret[position + 1 :]
    assert not tokens.is_well_formed(typo, tokens.PAT_TYPE)


def test_truncated_and_padded_tokens_are_rejected():
    secret = tokens.mint(tokens.PAT_TYPE).secret
    assert not tokens.is_well_formed(secret[:-1], tokens.PAT_TYPE)
    assert not tokens.is_well_formed(secret + "x", tokens.PAT_TYPE)
    assert not tokens.is_well_formed("", tokens.PAT_TYPE)
    assert not tokens.is_well_formed("rbpat_" + "é" * 36, tokens.PAT_TYPE)
