# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's version, for reports (internal; kept equal to galaxy.yml by a unit test)."""

COLLECTION_VERSION = "0.1.0"
