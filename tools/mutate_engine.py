# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Break the C# engine on purpose and check that the tests of tests/csharp see it.

    .venv/bin/python tools/mutate_engine.py            # every mutant (a few minutes: one pytest run each)
    .venv/bin/python tools/mutate_engine.py retention  # the mutants whose name contains "retention"

Each mutant is one textual change to BackupReady.cs (or to the fake) and the tests it must make fail. The script
copies the sources, applies the change, runs pytest on the copy (BACKUPREADY_CS_SOURCES) and fails when a mutant is
not caught by the tests it names, or when a hand-written engine test is killed by no mutant. A mutant whose tests
are all in test_engine.py runs that file only (seconds); one that names a cross-check with the Python twin
(test_agreement.py) runs all of tests/csharp (minutes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "plugins" / "module_utils" / "BackupReady.cs"
TESTS = ROOT / "tests" / "csharp"

# (name, file, old text, new text, tests that must fail: names of EngineTests methods or pytest functions)
MUTANTS = [
    ("removing a self-test's backups takes the lock in check mode", "BackupReady.cs",
     "            if (checkMode)\n                return SelftestBackupsOf(os, store, runId, false);",
     "            if (checkMode && os == null)\n                return SelftestBackupsOf(os, store, runId, false);",
     ["TestRemovingTheSandboxBackupsAndTheLock"]),
    ("a self-test deletes the backups of a change still on the host", "BackupReady.cs",
     "            if (SelftestSandbox.HoldsTheEntry(os, value, runId))\n",
     "            if (SelftestSandbox.HoldsTheEntry(os, value, runId) && store == null)\n",
     ["TestTheBackupsOfARunWhoseEntryIsStillThereAreKept"]),
    ("a self-test sandbox spelled otherwise is written", "BackupReady.cs",
     "            if (path.TrimEnd('\\\\') != root + \"\\\\\" + runId)\n",
     "            if (path.TrimEnd('\\\\') != root + \"\\\\\" + runId && path.Length < 0)\n",
     ["TestASelftestSandboxSpelledOtherwiseIsRefused"]),
    ("a '..' in a driver or NT path is resolved like a Win32 path", "BackupReady.cs",
     "            if (ntPath && HasDotSegment(low))\n", "            if (ntPath && HasDotSegment(low) && low.Length < 0)\n",
     ["test_same_command_vectors"]),
    ("dot segments of a drive path are not resolved before the system root", "BackupReady.cs",
     "                List<string> below = Segments(low.Substring(3));\n",
     "                List<string> below = new List<string>(low.Substring(3).Split('\\\\'));\n",
     ["test_same_command_vectors"]),
    ("the committed record keeps every planned undo", "BackupReady.cs",
     'record["undo"] = committed;', 'record["undo"] = new List<object>(undo);',
     ["TestPartialApplyThenRollbackRestoresTheWrittenOnes", "TestFailureAfterTheWriteCountsAsWritten"]),
    ("the undo expects what was planned, not what was read back", "BackupReady.cs",
     'undo["expect"] = outcome.ReadBack != null ? outcome.ReadBack : check.Op["set"];', 'undo["expect"] = check.Op["set"];',
     ["TestReadBackThatDiffersCountsAsWritten"]),
    ("no pending resolution", "BackupReady.cs",
     "journal.Add(ResolvePending(os, entry));", "journal.Count.ToString();",
     ["TestCrashAfterThePendingRecordIsDiscardedByTheNextApply", "TestCrashAfterAWriteIsCommittedByTheNextApply",
      "TestPendingWithAnUnknownChangeIsLeftPending", "TestRetentionKeepsTheNewestCommittedRecords",
      "test_scenario_crash_then_recovery"]),
    ("a pending record is always discarded", "BackupReady.cs",
     "if (lastOnHost < 0)\n", "if (lastOnHost < 100)\n",
     ["TestCrashAfterAWriteIsCommittedByTheNextApply", "test_scenario_crash_then_recovery"]),
    ("a pending record with an unknown change is resolved anyway", "BackupReady.cs",
     "                if (standing == Unknown)\n", "                if (standing == Unknown && String.Empty.Length > 0)\n",
     ["TestPendingWithAnUnknownChangeIsLeftPending", "TestRetentionKeepsTheNewestCommittedRecords"]),
    ("every store entry is trusted", "BackupReady.cs",
     "        public static string TrustProblem(string path, string sddl)\n        {\n",
     "        public static string TrustProblem(string path, string sddl)\n        {\n            if (path != null) return null;\n",
     ["TestUntrustedStoreEntryIsRefused", "TestStoreIsCreatedProtectedAndProtectedAgainWhenWeaker",
      "TestRetentionKeepsTheNewestCommittedRecords"]),
    ("a rollback may apply any operation", "BackupReady.cs",
     "                    MatchUndo(ops, target, notUndo);\n", "                    notUndo.Clear();\n",
     ["TestForgedRollbackOperationIsRefused"]),
    ("a rollback may name a pending record", "BackupReady.cs",
     'if (entry.Status != "committed")', 'if (entry.Status == "none")',
     ["TestPendingWithAnUnknownChangeIsLeftPending"]),
    ("the listing does not check rollback_of claims", "BackupReady.cs",
     "                    problem = ClaimProblem(os, store, entry);\n", "                    problem = null;\n",
     ["TestListingReportsTrustAndClaims"]),
    ("an untrusted entry is read and used", "BackupReady.cs",
     "            if (entry.Problem != null)\n                return entry;\n            entry.SecurityTrusted = true;",
     "            entry.Problem = null;\n            entry.SecurityTrusted = true;",
     ["TestUntrustedStoreEntryIsRefused", "TestRetentionKeepsTheNewestCommittedRecords"]),
    ("a folder is compared on its whole owner and DACL, inherited ACEs included", "BackupReady.cs",
     "                return Sddl.SameWritablePart(current as string, wanted as string);",
     '                return Sddl.SameDescriptor(current as string, wanted as string, "OD");',
     ["TestFolderCompareIsOnTheWritablePart"]),
    ("files are compared on their whole owner and DACL at write time", "BackupReady.cs",
     "                if (!Sddl.SameWritablePart(now, expect))\n",
     '                if (!Sddl.SameDescriptor(now, expect, "OD"))\n',
     ["TestFilesAreComparedOnTheWritablePartAtWriteTime"]),
    ("no compare-and-swap at write time", "BackupReady.cs",
     "            if (!Same(check.Op, now, check.Op[\"expect\"]))\n", "            if (String.Empty.Length > 0)\n",
     ["TestStartModeCompareAndSwapAtWriteTime", "TestServiceStateCompareAndSwapAtWriteTime"]),
    ("no per-file compare-and-swap", "BackupReady.cs",
     "                if (!Sddl.SameWritablePart(now, expect))\n", "                if (String.Empty.Length > 0)\n",
     ["TestFilesChangedSinceReadAreSkippedAndReported", "TestZeroFilesWrittenIsAFailure"]),
    ("0 of N files written counts as applied", "BackupReady.cs",
     "            if (!outcome.Written && outcome.Error == null)\n", "            if (String.Empty.Length > 0)\n",
     ["TestZeroFilesWrittenIsAFailure"]),
    ("a write that failed after changing the host is not counted", "BackupReady.cs",
     "                    if (again.Found && !Same(op, again.Value, now.Value))", "                    if (String.Empty.Length > 0)",
     ["TestFailureAfterTheWriteCountsAsWritten"]),
    ("the run goes on after a failure", "BackupReady.cs",
     "                if (failure != null)\n                {\n                    entry[\"status\"] = \"not_run\";",
     "                if (failure != null && String.Empty.Length > 0)\n                {\n                    entry[\"status\"] = \"not_run\";",
     ["TestPartialApplyThenRollbackRestoresTheWrittenOnes", "TestReadBackThatDiffersCountsAsWritten"]),
    ("a refusal does not stop the others", "BackupReady.cs",
     "            if (refusals.Count > 0 || whole != null)\n", "            if (refusals.Count > 0 && refusals.Count == ops.Count)\n",
     ["TestRefusalWritesNothing", "TestForgedRollbackOperationIsRefused"]),
    ("check mode writes", "BackupReady.cs",
     "            if (checkMode)\n            {\n                foreach (Check check in checks)",
     "            if (checkMode && String.Empty.Length > 0)\n            {\n                foreach (Check check in checks)",
     ["TestCheckModeWritesNothing"]),
    ("no pending record before the first write", "BackupReady.cs",
     "                WriteRecord(os, folder, record);\n            }\n            catch (Exception error)\n            {\n                foreach",
     "            }\n            catch (Exception error)\n            {\n                foreach",
     ["TestCrashAfterThePendingRecordIsDiscardedByTheNextApply", "TestCrashAfterAWriteIsCommittedByTheNextApply"]),
    ("retention keeps one more", "BackupReady.cs",
     "for (int i = Math.Max(keepBackups - (protect == null ? 0 : 1), 0);", "for (int i = Math.Max(keepBackups - (protect == null ? 0 : 1), 0) + 1;",
     ["TestRetentionKeepsTheNewestCommittedRecords"]),
    ("the store is created unprotected", "BackupReady.cs",
     'public const string StoreSddl = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";',
     'public const string StoreSddl = "O:BAD:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";',
     ["TestStoreIsCreatedProtectedAndProtectedAgainWhenWeaker"]),
    ("a weaker store is left as it is", "BackupReady.cs",
     "                    opened.WriteSecurity(StoreSddl);\n", "\n",
     ["TestStoreIsCreatedProtectedAndProtectedAgainWhenWeaker"]),
    ("a backup folder without its record stays", "BackupReady.cs",
     "                    DeleteEntry(os, entry.Folder);\n                    journal.Add(Map(\"id\", id, \"action\", \"discarded\"",
     "                    entry.Folder.Trim();\n                    journal.Add(Map(\"id\", id, \"action\", \"discarded\"",
     ["TestBackupFolderWithoutItsRecordIsRemoved"]),
    ("temporary files stay", "BackupReady.cs",
     "                os.DeleteFile(temp);\n", "                temp.Trim();\n",
     ["TestTemporaryFilesAreRemoved"]),
    ("no lock", "BackupReady.cs",
     "held = os.Lock(LockTimeoutMilliseconds);", "held = new MemoryStream();",
     ["TestLockHeldElsewhereFailsCleanly"]),
    ("the service descriptor is written whole", "BackupReady.cs",
     'os.SetServiceDacl((string)op["service"], Sddl.DaclPart((string)op["set"]));',
     'os.SetServiceDacl((string)op["service"], (string)op["set"]);',
     ["TestServiceDescriptorWritesTheDaclOnly"]),
    ("descriptors are compared as text", "BackupReady.cs",
     "            return Sddl.SameDescriptor(left, right);\n        }", "            return left == right;\n        }",
     ["TestServiceDescriptorWritesTheDaclOnly"]),
    ("the probe drops unreadable files", "BackupReady.cs",
     "                    if (sddl == null)\n                    {\n                        if (unreadable == null)",
     "                    if (sddl == null) continue;\n"
     "                    if (sddl == null)\n                    {\n                        if (unreadable == null)",
     ["TestPathSecuritySectionNeverSaysAbsentForUnreadable"]),
    ("record keys are not sorted", "BackupReady.cs",
     "                keys.Sort(CompareCodePoints);\n", "\n",
     ["TestRecordsAreDeterministicJson", "test_json_dump_matches_python"]),
    ("every ImagePath names the same command", "BackupReady.cs",
     "            return a != null && String.Equals(a, b, StringComparison.Ordinal);", "            return a == b || a != b;",
     ["TestAllowListRefusesWhatTheCollectionNeverWrites", "TestRefusalWritesNothing", "test_allowlist_vectors",
      "test_same_command_vectors"]),
    ("a user may become the owner of filemaps", "BackupReady.cs",
     "            if (owner != oldOwner && !IsAdministrative(owner))",
     "            if (owner != oldOwner && !IsAdministrative(owner) && String.Empty.Length > 0)",
     ["TestAllowListRefusesWhatTheCollectionNeverWrites", "test_allowlist_vectors"]),
    ("flag order matters in ACE comparison", "BackupReady.cs",
     "            distinct.Sort(StringComparer.Ordinal);\n"
     "            return String.Join(\",\", distinct.ToArray());\n        }\n\n        /// <summary>What makes",
     "            return String.Join(\",\", distinct.ToArray());\n        }\n\n        /// <summary>What makes",
     ["test_descriptor_vectors"]),
    ("a shape message differs from Python's", "BackupReady.cs",
     "\"{0}: '{1}' has the wrong type ({2})\"", "\"{0}: '{1}' has a wrong type ({2})\"",
     ["test_shape_messages_match_python"]),
    ("a key that denies writing is found out at write time", "BackupReady.cs",
     "os.RegistryKeyExists(subKey) ? os.RegistryWriteProblem(subKey) : null;",
     "os.RegistryKeyExists(subKey) ? null : subKey;",
     ["TestUnwritableKeyIsRefusedBeforeAnyWrite"]),
    ("a BigInteger is not an integer", "BackupReady.cs",
     'if (typeName == "System.Numerics.BigInteger" || data is JsonBigInteger)',
     'if (typeName == "System.Numerics.BigInteger." || data is JsonBigInteger)',
     ["TestBigIntegerQwordIsAccepted"]),
    ("the fake does not propagate to files", "FakeOs.cs",
     "                if (!oi)\n                    continue;", "                if (String.Empty.Length == 0)\n                    continue;",
     ["TestFakePropagatesInheritableAces"]),
    # The second review (docs/powershell-review.md, "After the second review").
    ("a reparse point is used like any folder or file", "BackupReady.cs",
     "            if (opened.IsReparsePoint())\n", "            if (opened.IsReparsePoint() && String.Empty.Length > 0)\n",
     ["TestAStoreReachedThroughAJunctionIsRefused", "TestABackupEntryThatIsAJunctionIsNeverEntered", "TestLinksInFilemapsAreRefused"]),
    ("a file with several hard links is used", "BackupReady.cs",
     "                if (links > 1)\n", "                if (links > 100)\n",
     ["TestLinksInFilemapsAreRefused"]),
    ("the folders above the store are not looked at", "BackupReady.cs",
     "                string link = LinkProblem(os, folder);\n                if (link != null)\n                    throw new StoreRefused(link);",
     "                string link = null;\n                if (link != null)\n                    throw new StoreRefused(link);",
     ["TestAStoreReachedThroughAJunctionIsRefused"]),
    ("a backup entry is not checked for links", "BackupReady.cs",
     "                    entry.Problem = LinkProblem(folder, entry.Folder);\n", "                    entry.Problem = null;\n",
     ["TestABackupEntryThatIsAJunctionIsNeverEntered"]),
    ("the files of a filemaps files operation are not checked for links", "BackupReady.cs",
     "                            link = LinkProblem(opened, file);\n", "                            link = null;\n",
     ["TestLinksInFilemapsAreRefused"]),
    ("the files of a folder written are not checked for links", "BackupReady.cs",
     "                foreach (string name in os.ListFiles(folder))\n                {\n                    problem = LinkProblem(os, Join(folder, name));",
     "                foreach (string name in new string[0])\n                {\n                    problem = LinkProblem(os, Join(folder, name));",
     ["TestLinksInFilemapsAreRefused"]),
    ("a folder with subfolders is written", "BackupReady.cs",
     "                if (withFiles)\n                    return String.Format(\"{0} holds the folder",
     "                if (String.Empty.Length > 0)\n                    return String.Format(\"{0} holds the folder",
     ["TestAFolderWithSubfoldersIsNeverWritten"]),
    ("any spelling of backup_dir is taken", "BackupReady.cs",
     "            return why == null ? null : String.Format(\"backup_dir must be",
     "            return why == null || store.Length > 3 ? null : String.Format(\"backup_dir must be",
     ["TestBackupDirMustBeWrittenTheOneWayWindowsReadsIt"]),
    ("the store's parent may hold any folder", "BackupReady.cs",
     "                if (isStore || String.Equals(name, storeLeaf, StringComparison.OrdinalIgnoreCase))",
     "                if (isStore || name != null)",
     ["TestAParentHoldingOtherFoldersIsNeverTakenOver"]),
    ("any folder beside the store counts as another store", "BackupReady.cs",
     "                    return NotMadeHere(os, folder, opened.ReadSecurity(), true, null);",
     "                    return null;",
     ["TestAParentHoldingOtherFoldersIsNeverTakenOver"]),
    ("a weak store is protected again whatever links it holds", "BackupReady.cs",
     "                        if (link != null)\n                            throw new StoreRefused(link + \": \" + folder",
     "                        if (link == \"\")\n                            throw new StoreRefused(link + \": \" + folder",
     ["TestAWeakStoreHoldingALinkIsNotProtectedAgain"]),
    ("a folder beside the store that cannot be read is taken for a store", "BackupReady.cs",
     "                return IsNotFound(error) ? null : \"it cannot be read: \" + Message(error);",
     "                return error == null ? \"it cannot be read\" : null;",
     ["TestAParentHoldingOtherFoldersIsNeverTakenOver"]),
    ("check mode takes the lock", "BackupReady.cs",
     "            if (checkMode)\n            {\n                // A dry run writes nothing",
     "            if (String.Empty.Length > 0)\n            {\n                // A dry run writes nothing",
     ["TestLockHeldElsewhereFailsCleanly"]),
    ("no walk for links right before a folder write", "BackupReady.cs",
     "                        link = PathLinks(os, folder, true);", "                        link = null;",
     ["TestAFolderWithSubfoldersIsNeverWritten"]),
    ("Windows opens follow links", "BackupReady.cs",
     "HostNative.FILE_FLAG_BACKUP_SEMANTICS | HostNative.FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);",
     "HostNative.FILE_FLAG_BACKUP_SEMANTICS, IntPtr.Zero);",
     ["test_windows_opens_never_follow_links"]),
    ("any folder named as the store is taken over", "BackupReady.cs",
     "            if (sid != Sddl.SystemSid && sid != Sddl.AdministratorsSid)\n                return String.Format(\"{0} is owned by",
     "            if (sid == \"none\")\n                return String.Format(\"{0} is owned by",
     ["TestAFolderNamedAsTheStoreIsNeverTakenOver"]),
    ("what the store holds is not looked at", "BackupReady.cs",
     "                if (!name.StartsWith(TempPrefix, StringComparison.Ordinal))\n                    return String.Format(\"{0} holds the file",
     "                if (String.Empty.Length > 0)\n                    return String.Format(\"{0} holds the file",
     ["TestAFolderNamedAsTheStoreIsNeverTakenOver"]),
    ("the folders the store holds are not looked at", "BackupReady.cs",
     "                if (isStore && !IsBackupId(name))\n", "                if (isStore && name == null)\n",
     ["TestAFolderNamedAsTheStoreIsNeverTakenOver"]),
    ("an unreadable file of a pending record is gone", "BackupReady.cs",
     "                            if (IsNotFound(error))\n", "                            if (error != null)\n",
     ["TestPendingFilesThatCannotBeReadAreLeftPending"]),
    ("a check-mode rollback does not judge a pending record", "BackupReady.cs",
     '            if (checkMode && entry.Status == "pending")', '            if (checkMode && entry.Status == "none")',
     ["TestACheckModeRollbackOfAPendingBackupAnswersAsTheRealRun", "check_mode_rollback_of_a_pending_record",
      "pending_records_with_every_verdict"]),
    ("a write whose outcome cannot be told is forgotten", "BackupReady.cs",
     "                if (unknown.Count > 0)\n", "                if (unknown.Count > 100)\n",
     ["TestAWriteWhoseOutcomeCannotBeToldKeepsTheRecordPending"]),
    ("a mutex that denies this account escapes as an exception", "BackupReady.cs",
     "            catch (UnauthorizedAccessException error)\n            {\n                // Any account",
     "            catch (InvalidCastException error)\n            {\n                // Any account",
     ["TestALockThatCannotBeOpenedFailsCleanly"]),
    ("retention may prune the record just written", "BackupReady.cs",
     "                if (id == protect)\n", "                if (id == null)\n",
     ["TestRetentionNeverPrunesTheRecordJustWritten"]),
    ("a label and a rollback_of naming two backups are not refused", "BackupReady.cs",
     "                if (rollbackOf != null && claimedId != rollbackOf)\n", "                if (rollbackOf != null && claimedId == null)\n",
     ["TestALabelAndARollbackOfNamingTwoBackupsAreRefused"]),
    ("a record's operations are not checked", "BackupReady.cs",
     'foreach (string key in new string[] { "undo", "operations" })\n            {\n                List<object> ops',
     'foreach (string key in new string[] { "undo" })\n            {\n                List<object> ops',
     ["test_record_shapes_are_judged_as_python_judges_them"]),
    ("a record without a label is used", "BackupReady.cs",
     '            if (!record.TryGetValue("label", out label) || !(label is Dictionary<string, object>))',
     '            if (record.TryGetValue("label", out label) && !(label is Dictionary<string, object>))',
     ["test_record_shapes_are_judged_as_python_judges_them"]),
    ("a start is kept in a pending record without a later change on the host", "BackupReady.cs",
     "                else if (standings[i] == RecordOnly && i < lastOnHost)\n", "                else if (standings[i] == RecordOnly)\n",
     ["start_dropped_when_it_is_the_last_change"]),
    ("an undo operation may be used twice", "BackupReady.cs",
     "                    if (used[j] || !BackupJson.Same(operations[i], undo[j]))", "                    if (!BackupJson.Same(operations[i], undo[j]))",
     ["TestAnUndoOperationIsUsedOnce"]),
    ("inherit-only ACEs do not count in the trust rule", "BackupReady.cs",
     "                if (Array.IndexOf(AllowTypes, ace.Type) < 0)\n",
     "                if (Array.IndexOf(AllowTypes, ace.Type) < 0 || ace.Flags.Contains(\"IO\"))\n",
     ["test_the_store_trust_rule_is_python_s", "TestStoreIsCreatedProtectedAndProtectedAgainWhenWeaker"]),
    ("MAXIMUM_ALLOWED does not count in the trust rule", "BackupReady.cs",
     "0x80000 | 0x2000000 | 0x10000000", "0x80000 | 0x10000000",
     ["test_the_store_trust_rule_is_python_s"]),
    ("REG_BINARY is compared by its spelling", "BackupReady.cs",
     "                    return ToHex(bytesA, bytesA.Length) == ToHex(bytesB, bytesB.Length);",
     "                    return ToHex(bytesA, bytesA.Length) == ToHex(bytesB, bytesB.Length) && (string)a == (string)b;",
     ["test_registry_values_compare_as_python_compares_them"]),
    ("a NULL DACL is an empty one in the writable part", "BackupReady.cs",
     '                key.Append("NULL");  // everyone, everything: not an empty DACL\n                return key.ToString();',
     '                key.Append("");\n                return key.ToString();',
     ["test_descriptor_vectors"]),
    ("ImagePath quotes may be removed outside a rollback", "BackupReady.cs",
     "            if (!driver && Quoted(before) && !Quoted(after))\n", "            if (!driver && Quoted(before) && !Quoted(after) && rollback)\n",
     ["test_allowlist_vectors", "TestALabelAndARollbackOfNamingTwoBackupsAreRefused"]),
    ("filemaps ACEs may change in any way that stays under the ceiling", "BackupReady.cs",
     "            return AceChangesProblem(Explicit(before.Dacl), Explicit(after.Dacl));", "            return null;",
     ["test_allowlist_vectors"]),
    ("the self-test sandbox's parents are not checked", "BackupReady.cs",
     "                    links = SandboxProblem(os, (string)op[\"path\"]);", "                    links = null;",
     ["TestASelftestSandboxUnderAFolderAUserMadeIsRefused", "TestASelftestSandboxReachedThroughAJunctionIsRefused"]),
    ("the self-test sandbox is outside the allow-list", "BackupReady.cs",
     "&&\n                        SelftestRunId((string)op[\"path\"], systemRoot) == null)", "&& true)",
     ["TestTheSelftestSandboxIsWrittenAndRolledBack", "test_allowlist_vectors"]),
    ("the self-test sandbox is made without its DACL", "BackupReady.cs",
     "                os.WriteSecurity(folder, Sddl.OwnerAndDacl(FolderSddl));\n            }\n            catch (Exception)\n",
     "            }\n            catch (Exception)\n",
     ["TestTheSelftestSandboxIsMadeAndRemovedWhole"]),
    ("a self-test sandbox holding a folder is removed", "BackupReady.cs",
     "if (problem == null && os.ListDirectories(folder).Length > 0)",
     "if (problem == null && os.ListDirectories(folder).Length > 99)",
     ["TestTheSelftestSandboxIsNeverMadeOrRemovedThroughSomethingElse"]),
    ("a self-test removes backups that are not wholly its sandbox's", "BackupReady.cs",
     "                if (!IsOpOfRun(systemRoot, op, runId))\n                    return false;\n            return true;",
     "                if (!IsOpOfRun(systemRoot, op, runId) && op == null)\n                    return false;\n            return true;",
     ["TestRemovingTheSandboxDeletesItsBackupsAndNoOther"]),
    # Messages show values as _display does (tests/vectors/display.json), never as Python's repr.
    ("a refusal names the registry key as repr does", "BackupReady.cs",
     'return String.Format("registry key {0} is outside the allow-list", PyText.Quoted(',
     'return String.Format("registry key {0} is outside the allow-list", PyText.ReprString(',
     ["test_a_refusal_shows_a_registry_key_as_windows_shows_it", "test_allowlist_vectors"]),
    ("an invisible character beyond the BMP is named by its first half", "BackupReady.cs",
     "(pair ? Char.ConvertToUtf32(c, text[i + 1]) : (int)c).ToString(\"X4\"", "((int)c).ToString(\"X4\"",
     ["test_display_vectors"]),
    ("every mapping key is quoted", "BackupReady.cs",
     "(key != null && IsIdentifier(key) ? key :", "(key != null && IsIdentifier(key) && key.Length > 99 ? key :",
     ["test_display_vectors"]),
    ("a long value is not cut in a message", "BackupReady.cs",
     "bool cut = limit >= 0 && Length(text) > limit;", "bool cut = limit > 99 && Length(text) > limit;",
     ["test_display_vectors", "test_allowlist_vectors"]),
]


ENGINE_TESTS = set(re.findall(r"public static void (Test\w+)\(\)", (TESTS / "EngineTests.cs").read_text(encoding="utf-8")))
ENGINE_FILE_TESTS = set(re.findall(r"^def (test_\w+)\(", (TESTS / "test_engine.py").read_text(encoding="utf-8"), re.MULTILINE))


def run_mutant(name: str, file: str, old: str, new: str, expected: list[str] | None = None) -> set[str]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copy(ENGINE, work / "BackupReady.cs")
        for source in ("FakeOs.cs", "Harness.cs", "EngineTests.cs"):
            shutil.copy(TESTS / source, work / source)
        target = work / file
        text = target.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"mutant {name!r}: the text to change is found {text.count(old)} times in {file}")
        target.write_text(text.replace(old, new), encoding="utf-8")
        env = dict(os.environ, BACKUPREADY_CS_SOURCES=str(work))
        fast = expected is not None and all(t in ENGINE_TESTS or t in ENGINE_FILE_TESTS for t in expected)
        target = TESTS / "test_engine.py" if fast else TESTS
        run = subprocess.run([sys.executable, "-m", "pytest", str(target), "-q", "--tb=no", "-rfE", "-p", "no:cacheprovider",
                              "--hypothesis-seed=0"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        failed = set(re.findall(r"^FAILED \S+::(\w+)(?:\[(\w+)\])?", run.stdout, re.MULTILINE))
        names = {param or function for function, param in failed}
        last = run.stdout.splitlines()[-1:] or [""]
        if run.returncode not in (0, 1) or re.search(r"^ERROR ", run.stdout, re.MULTILINE) or " error" in last[0]:
            raise SystemExit(f"mutant {name!r} does not build or run (a mutant must compile):\n{run.stdout[-3000:]}")
        return names


def main(argv: list[str]) -> int:
    selected = [m for m in MUTANTS if not argv or any(a in m[0] for a in argv)]
    engine_tests = set(re.findall(r"public static void (Test\w+)\(\)", (TESTS / "EngineTests.cs").read_text(encoding="utf-8")))
    killed: set[str] = set()
    problems = 0
    for name, file, old, new, expected in selected:
        failed = run_mutant(name, file, old, new, expected)
        missed = [test for test in expected if test not in failed]
        killed |= failed
        print(f"{'ok    ' if not missed else 'MISSED'} {name}: {len(failed)} failing ({', '.join(sorted(failed)) or 'none'})")
        if missed:
            problems += 1
            print(f"       expected to fail and passed: {', '.join(missed)}")
    if not argv:
        never = sorted(engine_tests - killed)
        if never:
            problems += 1
            print(f"engine tests no mutant made fail: {', '.join(never)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
