"""Make ``ansible_collections.backupready.windows`` importable from this checkout (as ansible.windows does)."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")


def _install_collection_finder():
    link = os.path.join(COLLECTIONS, "ansible_collections", "backupready", "windows")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    finder = _AnsibleCollectionFinder(paths=[COLLECTIONS])
    finder._install()  # pylint: disable=protected-access


_install_collection_finder()


@pytest.fixture
def repo_root():
    return ROOT
