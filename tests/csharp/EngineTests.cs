// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The apply engine against the fake Windows, with expectations written by hand from docs/write-path.md. Each public
// static Test* method is one test; tests/csharp/test_engine.py runs them all in one mono process and reports each.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using ansible_collections.backupready.windows.plugins.module_utils.BackupReady;

public static class EngineTests
{
    public static Dictionary<string, object> Inputs = new Dictionary<string, object>();

    private const string Store = Harness.DefaultStore;
    private const string Filemaps = "C:\\Windows\\winsxs\\filemaps";
    private const string AlgKey = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ALG";
    private const string WriterKey = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter";
    private const string VssKey = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl";
    private const string User = "S-1-5-21-1004336348-1177238915-682003330-1001";
    private const string CryptSvcSddl = "O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;CCLCSWLOCRRC;;;IU)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)";

    // A small host: ALG (a Win32 service with an unquoted path), CryptSvc stopped and manual, VSS, the SystemWriter key
    // without ExcludedBinaryPaths, no VssAccessControl key, filemaps with three files, PendingRenames.
    private const string SmallWorldText = @"{
 'schema_version': 1, 'collected_at': '2026-01-01T00:00:00Z', 'collector': 'tests',
 'host': {'name': 'fs01', 'os_version': '10.0.17763', 'os_build': 17763, 'os_caption': 'Windows Server 2019',
          'product_type': 'server', 'system_root': 'C:\\Windows', 'system_drive': 'C:'},
 'volumes': [],
 'services': [
  {'name': 'ALG', 'display_name': null, 'type': 16, 'start_mode': 'manual', 'state': 'stopped', 'account': null,
   'image_path': {'kind': 'REG_EXPAND_SZ', 'data': 'C:\\Program Files\\Agent\\agent.exe -k'}, 'scm_path': null,
   'security': {'sddl': null, 'source': 'default'}},
  {'name': 'CryptSvc', 'display_name': null, 'type': 32, 'start_mode': 'manual', 'state': 'stopped', 'account': null,
   'image_path': {'kind': 'REG_EXPAND_SZ', 'data': '%SystemRoot%\\system32\\svchost.exe -k NetworkService -p'}, 'scm_path': null,
   'security': {'sddl': 'CRYPTSVC_SDDL', 'source': 'registry'}},
  {'name': 'VSS', 'display_name': null, 'type': 16, 'start_mode': 'manual', 'state': 'stopped', 'account': null,
   'image_path': {'kind': 'REG_EXPAND_SZ', 'data': '%systemroot%\\system32\\vssvc.exe'}, 'scm_path': null,
   'security': {'sddl': null, 'source': 'default'}}
 ],
 'system_writer': {'key_exists': true, 'excluded_binary_paths': {'kind': 'missing', 'data': null},
                   'report_win32_services_non_system_state': {'kind': 'missing', 'data': null}},
 'vssadmin': {'collected': false, 'exit_code': null, 'stdout': '', 'stderr': ''},
 'filemaps': {'path': 'C:\\Windows\\winsxs\\filemaps', 'exists': true,
   'sddl': 'O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:SYD:PAI(A;OICI;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;OICI;0x1200a9;;;BA)',
   'files': {'count': 3, 'descriptors': [
     {'sddl': 'O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:SYD:AI(A;ID;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;ID;0x1200a9;;;BA)',
      'count': 3, 'samples': ['a.cdf-ms', 'b.cdf-ms', 'c.cdf-ms'], 'names': ['a.cdf-ms', 'b.cdf-ms', 'c.cdf-ms']}]}},
 'pending_renames': {'path': 'C:\\Windows\\winsxs\\temp\\PendingRenames', 'exists': true,
   'sddl': 'O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:SYD:PAI(A;OICI;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;OICI;0x1200a9;;;BA)',
   'files': null},
 'vss_access_control': {'key_exists': false, 'values': {}},
 'events': [], 'wsb_log_lines': [], 'paths': {}
}";

    private const string TI = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

    private sealed class AssertionFailed : Exception
    {
        public AssertionFailed(string message) : base(message)
        {
        }
    }

    private static void Assert(bool condition, string what)
    {
        if (!condition)
            throw new AssertionFailed(what);
    }

    private static void Equal(object expected, object actual, string what)
    {
        if (!BackupJson.Same(expected, actual))
            throw new AssertionFailed(String.Format("{0}: expected\n{1}\nfound\n{2}", what, BackupJson.Dump(expected), BackupJson.Dump(actual)));
    }

    private static void Contains(string text, string part, string what)
    {
        if (text == null || text.IndexOf(part, StringComparison.Ordinal) < 0)
            throw new AssertionFailed(String.Format("{0}: {1} does not contain {2}", what, text == null ? "null" : PyText.ReprString(text), PyText.ReprString(part)));
    }

    private static Dictionary<string, object> M(params object[] pairs)
    {
        return FakeOs.Map(pairs);
    }

    private static List<object> L(params object[] items)
    {
        return new List<object>(items);
    }

    private static Dictionary<string, object> Reg(string kind, object data)
    {
        return M("kind", kind, "data", data);
    }

    public static Dictionary<string, object> SmallWorld()
    {
        return (Dictionary<string, object>)BackupJson.Parse(SmallWorldText.Replace('\'', '"').Replace("CRYPTSVC_SDDL", CryptSvcSddl));
    }

    private static FakeOs SmallHost()
    {
        return FakeOs.FromWorld(SmallWorld());
    }

    private static Dictionary<string, object> QuoteAlg()
    {
        return M("op", "registry_value", "key", AlgKey, "name", "ImagePath",
            "expect", Reg("REG_EXPAND_SZ", "C:\\Program Files\\Agent\\agent.exe -k"),
            "set", Reg("REG_EXPAND_SZ", "\"C:\\Program Files\\Agent\\agent.exe\" -k"));
    }

    private static Dictionary<string, object> UnquoteAlg()
    {
        return M("op", "registry_value", "key", AlgKey, "name", "ImagePath",
            "expect", Reg("REG_EXPAND_SZ", "\"C:\\Program Files\\Agent\\agent.exe\" -k"),
            "set", Reg("REG_EXPAND_SZ", "C:\\Program Files\\Agent\\agent.exe -k"));
    }

    private static Dictionary<string, object> ExcludeAgent()
    {
        return M("op", "registry_value", "key", WriterKey, "name", "ExcludedBinaryPaths",
            "expect", Reg("missing", null), "set", Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe")));
    }

    private static Dictionary<string, object> CryptSvcAuto()
    {
        return M("op", "service_start_mode", "service", "CryptSvc", "expect", "manual", "set", "auto");
    }

    private static Dictionary<string, object> CryptSvcManual()
    {
        return M("op", "service_start_mode", "service", "CryptSvc", "expect", "auto", "set", "manual");
    }

    private static Dictionary<string, object> NetworkServiceAllowed()
    {
        return M("op", "registry_value", "key", VssKey, "name", "NT AUTHORITY\\NETWORK SERVICE",
            "expect", Reg("missing", null), "set", Reg("REG_DWORD", 1L));
    }

    private static Dictionary<string, object> Apply(FakeOs os, List<object> ops)
    {
        return BackupEngine.Apply(os, ops, Store, null, 20, null, false);
    }

    /// <summary>What a rollback applies: the undo operations of a record in reverse order, recorded-only ones left out.</summary>
    private static List<object> RollbackOps(Dictionary<string, object> record)
    {
        List<object> ops = new List<object>();
        foreach (object op in (List<object>)record["undo"])
            if (((Dictionary<string, object>)op)["set"] as string != "none")
                ops.Insert(0, op);
        return ops;
    }

    private static Dictionary<string, object> Rollback(FakeOs os, string id)
    {
        return BackupEngine.Apply(os, RollbackOps(Record(os, id)), Store, null, 20, id, false);
    }

    private static Dictionary<string, object> Record(FakeOs os, string id)
    {
        foreach (object item in os.StoreRecords(Store))
            if ((string)((Dictionary<string, object>)item)["id"] == id)
                return (Dictionary<string, object>)item;
        throw new AssertionFailed("no record " + id + " in the store");
    }

    private static List<string> Statuses(Dictionary<string, object> result)
    {
        List<string> statuses = new List<string>();
        foreach (object item in (List<object>)result["results"])
            statuses.Add((string)((Dictionary<string, object>)item)["status"]);
        return statuses;
    }

    private static void StatusesAre(Dictionary<string, object> result, string expected)
    {
        string found = String.Join(",", Statuses(result).ToArray());
        if (found != expected)
            throw new AssertionFailed(String.Format("statuses: expected {0}, found {1}; msg: {2}", expected, found, result["msg"]));
    }

    private static object Service(Dictionary<string, object> world, string name, string field)
    {
        foreach (object item in (List<object>)world["services"])
        {
            Dictionary<string, object> service = (Dictionary<string, object>)item;
            if ((string)service["name"] == name)
                return service[field];
        }
        throw new AssertionFailed("no service " + name);
    }

    private static object Path(Dictionary<string, object> world, params string[] keys)
    {
        object value = world;
        foreach (string key in keys)
            value = ((Dictionary<string, object>)value)[key];
        return value;
    }

    private static string Writable(string sddl)
    {
        return Sddl.WritablePart(sddl);
    }

    // ---- partial applies, crashes and recovery ----------------------------------------------------------------------

    /// A failure at operation k: the committed record holds the undo of 1..k-1 only, and its rollback restores them.
    public static void TestPartialApplyThenRollbackRestoresTheWrittenOnes()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> before = os.ToWorld();
        os.Faults.Add(new FakeFault { Index = 2, When = "before_write" });
        Dictionary<string, object> result = Apply(os, L(QuoteAlg(), ExcludeAgent(), CryptSvcAuto(), NetworkServiceAllowed()));
        StatusesAre(result, "applied,applied,failed,not_run");
        Assert((bool)result["failed"] && (bool)result["changed"], "a partial apply fails and is changed");
        Contains((string)result["msg"], "injected failure before the write of operation 2", "msg");
        string id = (string)result["backup_id"];
        Dictionary<string, object> record = Record(os, id);
        Equal("committed", record["status"], "status of the record");
        Equal(L(
            M("op", "registry_value", "key", AlgKey, "name", "ImagePath", "expect", QuoteAlg()["set"], "set", QuoteAlg()["expect"]),
            M("op", "registry_value", "key", WriterKey, "name", "ExcludedBinaryPaths", "expect", ExcludeAgent()["set"], "set", Reg("missing", null))),
            record["undo"], "the record holds the undo of operations 0 and 1 only");
        Equal(record["undo"], result["undo"], "the result's undo is the record's");
        Dictionary<string, object> after = os.ToWorld();
        Equal("manual", Service(after, "CryptSvc", "start_mode"), "operation 2 was not written");
        Equal(false, Path(after, "vss_access_control", "key_exists"), "operation 3 was not run");

        Dictionary<string, object> rollback = Rollback(os, id);
        StatusesAre(rollback, "applied,applied");
        Assert(!(bool)rollback["failed"], "the rollback succeeds: " + rollback["msg"]);
        Equal(before["services"], os.ToWorld()["services"], "services after the rollback");
        Equal(before["system_writer"], os.ToWorld()["system_writer"], "SystemWriter after the rollback");
        Equal(M("rollback_of", id), Record(os, (string)rollback["backup_id"])["label"], "the rollback's own record is labelled");
    }

    /// A crash between the pending record and the first write: the next apply discards the record (its change never happened).
    public static void TestCrashAfterThePendingRecordIsDiscardedByTheNextApply()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> before = os.ToWorld();
        os.Faults.Add(new FakeFault { Index = 0, When = "crash_after_pending" });
        bool crashed = false;
        try
        {
            Apply(os, L(QuoteAlg()));
        }
        catch (CrashException)
        {
            crashed = true;
        }
        Assert(crashed && os.Dead, "the apply died");
        os.Restart();
        os.Faults.Clear();
        List<object> records = os.StoreRecords(Store);
        Equal(1, records.Count, "one record left");
        Equal("pending", ((Dictionary<string, object>)records[0])["status"], "left pending");
        Equal(before["services"], os.ToWorld()["services"], "nothing was written");
        string pending = (string)((Dictionary<string, object>)records[0])["id"];

        Dictionary<string, object> next = Apply(os, L(ExcludeAgent()));
        StatusesAre(next, "applied");
        Equal(L(M("id", pending, "action", "discarded", "msg", "none of its changes is on the host: the apply that wrote it stopped before its first write")),
            next["journal"], "the journal of the next apply");
        records = os.StoreRecords(Store);
        Equal(1, records.Count, "only the new record is left");
        Equal(next["backup_id"], ((Dictionary<string, object>)records[0])["id"], "the new record");
    }

    /// A crash after operation 0 was written: the next apply commits the record with the undo of operation 0 only.
    public static void TestCrashAfterAWriteIsCommittedByTheNextApply()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> before = os.ToWorld();
        os.Faults.Add(new FakeFault { Index = 0, When = "crash_after_write" });
        try
        {
            Apply(os, L(QuoteAlg(), ExcludeAgent()));
            throw new AssertionFailed("the apply did not die");
        }
        catch (CrashException)
        {
        }
        os.Restart();
        Equal(QuoteAlg()["set"], Service(os.ToWorld(), "ALG", "image_path"), "operation 0 is on the host");
        Equal(Reg("missing", null), Path(os.ToWorld(), "system_writer", "excluded_binary_paths"), "operation 1 is not");
        string id = (string)((Dictionary<string, object>)os.StoreRecords(Store)[0])["id"];
        Equal("pending", Record(os, id)["status"], "left pending by the crash");

        Dictionary<string, object> next = Apply(os, L());
        Equal("committed", ((Dictionary<string, object>)((List<object>)next["journal"])[0])["action"], "resolved as committed");
        Dictionary<string, object> record = Record(os, id);
        Equal("committed", record["status"], "status");
        Equal(L(M("op", "registry_value", "key", AlgKey, "name", "ImagePath", "expect", QuoteAlg()["set"], "set", QuoteAlg()["expect"])),
            record["undo"], "the undo of what is on the host only");

        Dictionary<string, object> rollback = Rollback(os, id);
        StatusesAre(rollback, "applied");
        Equal(before["services"], os.ToWorld()["services"], "the rollback restores operation 0");
    }

    /// A record planted by a user (owner not SYSTEM/Administrators) is listed as untrusted and never rolled back.
    public static void TestUntrustedStoreEntryIsRefused()
    {
        FakeOs os = SmallHost();
        string planted = "99991231T235959999Z-00000000";
        Dictionary<string, object> record = M("format", BackupEngine.RecordFormat, "writer", BackupEngine.RecordWriter, "id", planted,
            "host", "fs01", "created", "9999-12-31T23:59:59.999Z", "status", "committed", "operations", L(), "results", L(),
            "undo", L(NetworkServiceAllowed()), "label", M(),
            "owner", User, "sddl", "O:" + User + "D:P(A;;FA;;;" + User + ")(A;;FA;;;SY)(A;;FA;;;BA)");
        os.AddStore(Store, L(record), null);
        Dictionary<string, object> listing = BackupEngine.ListBackups(os, Store, 5);
        Dictionary<string, object> entry = (Dictionary<string, object>)((List<object>)listing["backups"])[0];
        Equal(false, entry["trusted"], "listed as untrusted");
        Equal(null, entry["record"], "its record is not returned");
        Contains((string)entry["error"], "its owner is " + User + ", not SYSTEM or Administrators", "why");

        Dictionary<string, object> result = BackupEngine.Apply(os, L(NetworkServiceAllowed()), Store, null, 20, planted, false);
        StatusesAre(result, "refused");
        Contains((string)result["msg"], "backup " + planted + " is not trusted", "msg");
        Equal(false, Path(os.ToWorld(), "vss_access_control", "key_exists"), "nothing written");

        // A trusted folder holding a backup.json that Users may write is not trusted either.
        FakeOs other = SmallHost();
        record["owner"] = "BA";
        record["sddl"] = "O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x116;;;BU)";
        other.AddStore(Store, L(record), null);
        entry = (Dictionary<string, object>)((List<object>)BackupEngine.ListBackups(other, Store, 5)["backups"])[0];
        Equal(false, entry["trusted"], "a writable record is untrusted");
        Contains((string)entry["error"], "(A;;0x116;;;BU) lets BU change it", "why");
    }

    /// A rollback may only apply undo operations of its backup, field for field.
    public static void TestForgedRollbackOperationIsRefused()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> applied = Apply(os, L(QuoteAlg()));
        string id = (string)applied["backup_id"];
        Dictionary<string, object> world = os.ToWorld();
        List<object> ops = RollbackOps(Record(os, id));
        ops.Add(ExcludeAgent());
        Dictionary<string, object> result = BackupEngine.Apply(os, ops, Store, null, 20, id, false);
        StatusesAre(result, "not_run,refused");
        Contains((string)((Dictionary<string, object>)((List<object>)result["results"])[1])["reason"],
            "outside what this collection may change: not one of the undo operations of backup " + id, "reason");
        Equal(world, os.ToWorld(), "nothing written");

        // The undo operation with another 'set' is not the undo operation.
        Dictionary<string, object> forged = new Dictionary<string, object>((Dictionary<string, object>)RollbackOps(Record(os, id))[0]);
        forged["set"] = Reg("REG_EXPAND_SZ", "C:\\Program Files\\Agent\\agent.exe -k -x");
        StatusesAre(BackupEngine.Apply(os, L(forged), Store, null, 20, id, false), "refused");
        // The label alone makes a rollback too (what today's controller sends).
        StatusesAre(BackupEngine.Apply(os, L(forged), Store, M("rollback_of", id), 20, null, false), "refused");
        Equal(world, os.ToWorld(), "still nothing written");
        Equal(1, os.StoreRecords(Store).Count, "no record for refused applies");
    }

    /// acl-broken: the folder fix then the files fix (the Python planner's plan) apply, and the rollback restores the files.
    public static void TestAclBrokenFolderThenFilesAppliesAndRollbackRestoresTheFiles()
    {
        FakeOs os = FakeOs.FromWorld(Inputs["acl-broken"]);
        Dictionary<string, object> before = os.ToWorld();
        List<object> plan = (List<object>)Inputs["acl-broken-plan"];
        Dictionary<string, object> folderOp = (Dictionary<string, object>)plan[0];
        Dictionary<string, object> filesOp = (Dictionary<string, object>)plan[1];
        Dictionary<string, object> result = Apply(os, plan);
        StatusesAre(result, "applied,applied");
        Dictionary<string, object> filesResult = (Dictionary<string, object>)((List<object>)result["results"])[1];
        Equal(3205L, filesResult["files_changed"], "every file with the expected descriptor is rewritten after the folder write");
        Equal(0L, filesResult["files_skipped"], "none skipped: the compare is on the writable part");
        Dictionary<string, object> after = os.ToWorld();
        Equal(Writable((string)folderOp["set"]), Writable((string)Path(after, "filemaps", "sddl")), "the folder has its new writable part");
        foreach (object item in (List<object>)Path(after, "filemaps", "files", "descriptors"))
        {
            Dictionary<string, object> group = (Dictionary<string, object>)item;
            string owner = Sddl.Parse((string)group["sddl"]).Owner;
            if ((long)group["count"] == 3205)
                Equal(Writable((string)filesOp["set"]), Writable((string)group["sddl"]), "the 3205 files");
            else
                Equal(TI, owner, "the TrustedInstaller-owned files keep their owner");
            Assert(((string)group["sddl"]).IndexOf("(D;ID;FR;;;BU)", StringComparison.Ordinal) < 0,
                "Windows recomputed the inherited ACEs from the new folder DACL: no inherited deny is left");
        }
        Dictionary<string, object> record = Record(os, (string)result["backup_id"]);
        Equal(3205, ((List<object>)((Dictionary<string, object>)((List<object>)record["undo"])[1])["names"]).Count, "the undo names the files written");

        Dictionary<string, object> rollback = Rollback(os, (string)result["backup_id"]);
        StatusesAre(rollback, "applied,applied");
        Dictionary<string, object> restored = os.ToWorld();
        Equal(Path(before, "filemaps", "sddl"), Path(restored, "filemaps", "sddl"), "the folder is restored byte for byte");
        foreach (object item in (List<object>)Path(restored, "filemaps", "files", "descriptors"))
        {
            Dictionary<string, object> group = (Dictionary<string, object>)item;
            if (Sddl.Parse((string)group["sddl"]).Owner != TI)
                Equal(((Dictionary<string, object>)((List<object>)Path(before, "filemaps", "files", "descriptors"))[0])["sddl"], group["sddl"],
                    "the 3205 files are restored byte for byte");
        }
    }

    /// Start mode: the value is compared again immediately before the write; a change in between stops the run.
    public static void TestStartModeCompareAndSwapAtWriteTime()
    {
        FakeOs os = SmallHost();
        os.OnStep = delegate(string stage, int index)
        {
            if (stage == "pending_written")
                os.SetValue(FakeOs.ServiceKey("CryptSvc"), "Start", Reg("REG_DWORD", 4L));  // someone disables it
        };
        Dictionary<string, object> result = Apply(os, L(CryptSvcAuto()));
        StatusesAre(result, "failed");
        Dictionary<string, object> entry = (Dictionary<string, object>)((List<object>)result["results"])[0];
        Contains((string)entry["reason"], "the host changed since it was read: expected 'manual', found 'disabled'", "reason");
        Equal("disabled", entry["found"], "found");
        Equal("disabled", Service(os.ToWorld(), "CryptSvc", "start_mode"), "the other writer's value is kept");
        Equal(null, result["backup_id"], "nothing written: no record");
        Equal(0, os.StoreRecords(Store).Count, "the pending record was deleted");
        Assert(!(bool)result["changed"], "not changed");
    }

    /// The state of a service is compared again immediately before a start.
    public static void TestServiceStateCompareAndSwapAtWriteTime()
    {
        FakeOs os = SmallHost();
        os.OnStep = delegate(string stage, int index)
        {
            if (stage == "pending_written")
                os.Service("CryptSvc").State = "start_pending";
        };
        Dictionary<string, object> result = Apply(os, L(M("op", "service_state", "service", "CryptSvc", "expect", "stopped", "set", "started")));
        StatusesAre(result, "failed");
        Contains((string)result["msg"], "expected 'stopped', found 'start_pending'", "msg");
        Equal("start_pending", os.Service("CryptSvc").State, "not started by the engine");
    }

    /// keep_backups: the newest N committed trusted records stay; pending and untrusted ones are never pruned.
    public static void TestRetentionKeepsTheNewestCommittedRecords()
    {
        FakeOs os = SmallHost();
        string pending = "20250101T000000000Z-0000aaaa";
        string planted = "20250101T000000000Z-0000bbbb";
        Dictionary<string, object> pendingRecord = M("format", BackupEngine.RecordFormat, "writer", BackupEngine.RecordWriter, "id", pending,
            "host", "fs01", "created", "2025-01-01T00:00:00.000Z", "status", "pending", "operations", L(), "results", L(),
            "undo", L(M("op", "registry_value", "key", AlgKey, "name", "ImagePath", "expect", Reg("REG_SZ", "x"), "set", Reg("REG_SZ", "y"))), "label", M());
        Dictionary<string, object> plantedRecord = new Dictionary<string, object>(pendingRecord);
        plantedRecord["id"] = planted;
        plantedRecord["status"] = "committed";
        plantedRecord["owner"] = User;
        os.AddStore(Store, L(pendingRecord, plantedRecord), null);
        List<string> made = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            Dictionary<string, object> result = BackupEngine.Apply(os, L(i % 2 == 0 ? CryptSvcAuto() : CryptSvcManual()), Store, null, 3, null, false);
            StatusesAre(result, "applied");
            made.Add((string)result["backup_id"]);
            if (i == 3)
                Equal(L(made[0]), result["pruned"], "the fourth apply prunes the oldest");
            if (i == 4)
                Equal(L(made[1]), result["pruned"], "the fifth apply prunes the next");
        }
        List<string> ids = new List<string>();
        foreach (object item in os.StoreRecords(Store))
            ids.Add((string)((Dictionary<string, object>)item)["id"]);
        Equal(L(pending, planted, made[2], made[3], made[4]), new List<object>(ids.ToArray()), "kept: the pending, the untrusted and the 3 newest");
        Equal("left_pending", ((Dictionary<string, object>)((List<object>)BackupEngine.Apply(os, L(), Store, null, 3, null, false)["journal"])[0])["action"],
            "the pending record's change is unknown: left pending");
    }

    // ---- the store --------------------------------------------------------------------------------------------------

    /// The store and its parent are created owned by Administrators with a protected DACL, and protected again when weaker.
    public static void TestStoreIsCreatedProtectedAndProtectedAgainWhenWeaker()
    {
        FakeOs os = SmallHost();
        Assert(os.Node("C:\\ProgramData\\backupready") == null, "no store yet");
        Dictionary<string, object> result = Apply(os, L(QuoteAlg()));
        Equal(L("C:\\ProgramData\\backupready", Store), Path(result, "store", "created"), "both folders created");
        foreach (string folder in new string[] { "C:\\ProgramData\\backupready", Store })
        {
            string sddl = os.ReadSecurity(folder, false);
            Equal("O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", Sddl.OwnerAndDacl(sddl), folder + ": Administrators own it, SYSTEM and Administrators only");
        }
        string record = BackupEngine.Join(BackupEngine.Join(Store, (string)result["backup_id"]), "backup.json");
        Assert(BackupEngine.TrustProblem(record, os.ReadSecurity(record, false)) == null, "the record is trusted");

        // Someone makes both inherit %ProgramData% (Users may create folders there): the next apply protects them again.
        os.WriteSecurity("C:\\ProgramData\\backupready", "D:");
        os.WriteSecurity(Store, "D:");
        Contains((string)Path(BackupEngine.ListBackups(os, Store, 1), "store", "error"),
            Store + ": (A;OICIIOID;GA;;;CO) lets CO change what is created in it", "the weak store is reported");
        Equal(false, Path(BackupEngine.ListBackups(os, Store, 1), "store", "secure"), "not secure");
        result = Apply(os, L(CryptSvcAuto()));
        Equal(2, ((List<object>)Path(result, "store", "secured")).Count, "protected again");
        Equal(true, Path(BackupEngine.ListBackups(os, Store, 1), "store", "secure"), "secure again");
    }

    /// Temporary files left by a crash are removed by the next apply.
    public static void TestTemporaryFilesAreRemoved()
    {
        FakeOs os = SmallHost();
        string id = (string)Apply(os, L(QuoteAlg()))["backup_id"];
        os.AddFile(BackupEngine.Join(Store, ".tmp-00ff"), BackupEngine.RecordFileSddl, "{");
        os.AddFile(BackupEngine.Join(BackupEngine.Join(Store, id), ".tmp-0100"), BackupEngine.RecordFileSddl, "{");
        Dictionary<string, object> result = Apply(os, L(CryptSvcAuto()));
        Equal(2L, Path(result, "store", "temp_removed"), "both removed");
        Assert(os.Node(BackupEngine.Join(Store, ".tmp-00ff")) == null, "gone from the store");
        Assert(os.Node(BackupEngine.Join(BackupEngine.Join(Store, id), ".tmp-0100")) == null, "gone from the record folder");
    }

    /// A crash between creating a backup folder and renaming its record into it leaves a folder with a temporary
    /// file only: the next apply removes it (nothing was written) and says so.
    public static void TestBackupFolderWithoutItsRecordIsRemoved()
    {
        FakeOs os = SmallHost();
        Apply(os, L(QuoteAlg()));
        string orphan = BackupEngine.Join(Store, "20260101T000000000Z-0000dead");
        os.CreateDirectory(orphan, BackupEngine.StoreSddl);
        os.AddFile(BackupEngine.Join(orphan, ".tmp-0000beef"), BackupEngine.RecordFileSddl, "{\"format\"");
        Dictionary<string, object> listed = (Dictionary<string, object>)((List<object>)BackupEngine.ListBackups(os, Store, 5)["backups"])[0];
        Contains((string)listed["error"], "it holds no backup.json", "listed as incomplete");
        Dictionary<string, object> result = Apply(os, L(CryptSvcAuto()));
        Equal(M("id", "20260101T000000000Z-0000dead", "action", "discarded",
            "msg", "a backup folder without its record: the apply that made it stopped before its first write"),
            ((List<object>)result["journal"])[0], "the journal");
        Assert(os.Node(orphan) == null, "removed");
    }

    /// Check mode reads, decides and reports, and writes nothing: no record, no journal resolution, no store.
    public static void TestCheckModeWritesNothing()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = BackupEngine.Apply(os, L(QuoteAlg(), CryptSvcAuto()), Store, null, 20, null, true);
        StatusesAre(result, "would_apply,would_apply");
        Assert((bool)result["changed"] && !(bool)result["failed"], "changed, not failed");
        Equal(2, ((List<object>)result["undo"]).Count, "the undo it would save");
        Equal(world, os.ToWorld(), "nothing written");
        Assert(os.Node(Store) == null, "no store created");
    }

    /// One refusal refuses the whole list: nothing written, no record.
    public static void TestRefusalWritesNothing()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> evil = M("op", "registry_value", "key", AlgKey, "name", "ImagePath",
            "expect", Reg("REG_EXPAND_SZ", "C:\\Program Files\\Agent\\agent.exe -k"), "set", Reg("REG_EXPAND_SZ", "C:\\Users\\Public\\evil.exe"));
        Dictionary<string, object> result = Apply(os, L(ExcludeAgent(), evil));
        StatusesAre(result, "not_run,refused");
        Assert((bool)result["refused"] && (bool)result["failed"] && !(bool)result["changed"], "refused");
        Contains((string)result["msg"], "outside what this collection may change: 'C:\\Users\\Public\\evil.exe' does not run the same command", "msg");
        Equal(world, os.ToWorld(), "nothing written");
        Assert(os.Node(Store) == null, "no record");

        Dictionary<string, object> stale = Apply(os, L(CryptSvcManual()));
        Contains((string)stale["msg"], "the host changed since it was read: expected 'auto', found 'manual'", "a compare-and-swap refusal");
    }

    /// A write whose read-back differs counts as written: changed, in the undo with the value read back, the run stops.
    public static void TestReadBackThatDiffersCountsAsWritten()
    {
        FakeOs os = SmallHost();
        os.Faults.Add(new FakeFault { Index = 0, When = "readback_differs" });
        Dictionary<string, object> result = Apply(os, L(ExcludeAgent(), CryptSvcAuto()));
        StatusesAre(result, "written_unverified,not_run");
        Assert((bool)result["changed"] && (bool)result["failed"], "changed and failed");
        Dictionary<string, object> undo = (Dictionary<string, object>)((List<object>)Record(os, (string)result["backup_id"])["undo"])[0];
        Equal(Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe", "C:\\as Windows stored it")), undo["expect"], "the undo expects what was read back");
        Contains((string)result["msg"], "was written but read back differently", "msg");
    }

    /// A write call that fails after the host changed (S4: propagation failing after the parent changed) counts as written.
    public static void TestFailureAfterTheWriteCountsAsWritten()
    {
        FakeOs os = SmallHost();
        os.Faults.Add(new FakeFault { Index = 1, When = "after_write" });
        Dictionary<string, object> result = Apply(os, L(QuoteAlg(), ExcludeAgent(), CryptSvcAuto()));
        StatusesAre(result, "applied,failed,not_run");
        Contains((string)((Dictionary<string, object>)((List<object>)result["results"])[1])["reason"], "the host shows the change was made", "reason");
        Equal(2, ((List<object>)Record(os, (string)result["backup_id"])["undo"]).Count, "both writes are in the undo");
        Dictionary<string, object> rollback = Rollback(os, (string)result["backup_id"]);
        StatusesAre(rollback, "applied,applied");
        Equal(Reg("missing", null), Path(os.ToWorld(), "system_writer", "excluded_binary_paths"), "rolled back");
    }

    /// A folder is compared on what a write sets (owner, protection, explicit ACEs): inherited ACEs that the plan
    /// predicted differently, and SIDs written as aliases, do not stop it; the undo expects what was read back.
    public static void TestFolderCompareIsOnTheWritablePart()
    {
        FakeOs os = SmallHost();
        string pending = "C:\\Windows\\winsxs\\temp\\PendingRenames";
        FakeOs.SetDescriptor(os.Node(pending), "O:" + TI + "G:SYD:AI(A;;FA;;;" + TI + ")(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BA)");
        Dictionary<string, object> op = M("op", "path_security", "path", pending, "target", "folder",
            "expect", "O:" + TI + "D:AI(A;;0x1f01ff;;;" + TI + ")(A;ID;FA;;;S-1-5-18)",
            "set", "O:BAD:AI(A;;FA;;;" + TI + ")(A;;0x1200a9;;;SY)(A;ID;FA;;;SY)");
        Dictionary<string, object> result = Apply(os, L(op));
        StatusesAre(result, "applied");
        Equal("O:BAG:SYD:AI(A;;FA;;;" + TI + ")(A;;0x1200a9;;;SY)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BA)", os.ReadSecurity(pending, false),
            "explicit ACEs in the order given, the inherited ones kept after them, the group untouched");
        Equal("O:BAD:AI(A;;FA;;;" + TI + ")(A;;0x1200a9;;;SY)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BA)",
            ((Dictionary<string, object>)((List<object>)result["undo"])[0])["expect"], "the undo expects the owner and DACL read back");
    }

    /// S3: a key that denies writing refuses the list in the check phase, before anything is written.
    public static void TestUnwritableKeyIsRefusedBeforeAnyWrite()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        os.ReadOnlyKeys.Add(FakeOs.ServiceKey("ALG"));
        Dictionary<string, object> result = Apply(os, L(ExcludeAgent(), QuoteAlg()));
        StatusesAre(result, "not_run,refused");
        Contains((string)result["msg"], "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ALG cannot be opened for writing", "msg");
        Equal(world, os.ToWorld(), "nothing written");
        Assert(os.Node(Store) == null, "no record");
    }

    /// First review #12: PowerShell 7 gives integers above Int64.MaxValue as System.Numerics.BigInteger (not IConvertible).
    public static void TestBigIntegerQwordIsAccepted()
    {
        object big = System.Numerics.BigInteger.Parse("18446744073709551615");
        Assert(OpShape.RegistryValueProblem(M("kind", "REG_QWORD", "data", big)) == null, "2**64-1 as a BigInteger is a REG_QWORD");
        Contains(OpShape.RegistryValueProblem(M("kind", "REG_QWORD", "data", System.Numerics.BigInteger.Parse("18446744073709551616"))),
            "REG_QWORD data must be an unsigned integer", "2**64 is not");
        Equal(18446744073709551615m, BackupJson.Normalize(big), "normalised to a decimal");
        Equal("ffffffffffffffff", RegistryValue.ToHex(RegistryValue.Encode(M("kind", "REG_QWORD", "data", big)), 8), "encoded");
    }

    private static Dictionary<string, object> FilesOp()
    {
        return M("op", "path_security", "path", Filemaps, "target", "files",
            "expect", "O:" + TI + "D:AI(A;ID;FA;;;" + TI + ")(A;ID;0x1200a9;;;BA)",
            "set", "O:BAD:AI(A;;0x1200a9;;;SY)");
    }

    /// Files changed since they were read are skipped and reported; the undo names only the files rewritten.
    public static void TestFilesChangedSinceReadAreSkippedAndReported()
    {
        FakeOs os = SmallHost();
        os.OnStep = delegate(string stage, int index)
        {
            if (stage == "pending_written")
                os.Node(Filemaps + "\\b.cdf-ms").Owner = "SY";
        };
        Dictionary<string, object> result = Apply(os, L(FilesOp()));
        StatusesAre(result, "applied");
        Dictionary<string, object> entry = (Dictionary<string, object>)((List<object>)result["results"])[0];
        Equal(2L, entry["files_changed"], "two rewritten");
        Equal(1L, entry["files_skipped"], "one skipped");
        Equal(L("a.cdf-ms", "c.cdf-ms"), ((Dictionary<string, object>)((List<object>)result["undo"])[0])["names"], "the undo names the two");
        Equal("SY", os.Node(Filemaps + "\\b.cdf-ms").Owner, "the changed file is left alone");
    }

    /// Files are compared on what a write sets, at the check and again right before each write: an expect that shows
    /// other inherited ACEs (or none, as here) still finds them.
    public static void TestFilesAreComparedOnTheWritablePartAtWriteTime()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> op = FilesOp();
        op["expect"] = "O:" + TI + "D:AI";
        Dictionary<string, object> result = Apply(os, L(op));
        StatusesAre(result, "applied");
        Equal(3L, ((Dictionary<string, object>)((List<object>)result["results"])[0])["files_changed"], "the three files");
    }

    /// "0 of N files written" is not applied: the operation fails and nothing is recorded.
    public static void TestZeroFilesWrittenIsAFailure()
    {
        FakeOs os = SmallHost();
        os.OnStep = delegate(string stage, int index)
        {
            if (stage == "pending_written")
                foreach (string name in new string[] { "a", "b", "c" })
                    os.Node(Filemaps + "\\" + name + ".cdf-ms").Owner = "SY";
        };
        Dictionary<string, object> result = Apply(os, L(FilesOp()));
        StatusesAre(result, "failed");
        Contains((string)result["msg"], "0 of 3 file(s) written", "msg");
        Assert(!(bool)result["changed"] && result["backup_id"] == null, "not changed, no record");
    }

    /// A service's descriptor is written through the DACL only (the fake refuses anything else); the SACL stays.
    public static void TestServiceDescriptorWritesTheDaclOnly()
    {
        FakeOs os = SmallHost();
        string set = CryptSvcSddl.Replace("S:", "(A;;CCLCSWLOCRRC;;;SU)S:");
        Dictionary<string, object> result = Apply(os, L(M("op", "service_security", "service", "CryptSvc", "expect", CryptSvcSddl, "set", set)));
        StatusesAre(result, "applied");
        Assert(Sddl.SameDescriptor(set, os.Service("CryptSvc").Sddl), "the descriptor is the one asked for");
        Contains(os.Service("CryptSvc").Sddl, "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)", "the SACL is kept");
        // Windows writes SDDL its own way: the same descriptor in other spelling is the same (semantic compare).
        os.Service("CryptSvc").Sddl = set.Replace("O:SYG:SY", "O:S-1-5-18G:S-1-5-18");
        StatusesAre(Apply(os, L(M("op", "service_security", "service", "CryptSvc", "expect", set, "set", CryptSvcSddl))), "applied");
    }

    /// A pending record whose values are neither written nor found stays pending and cannot be rolled back.
    public static void TestPendingWithAnUnknownChangeIsLeftPending()
    {
        FakeOs os = SmallHost();
        os.Faults.Add(new FakeFault { Index = 0, When = "crash_after_write" });
        try
        {
            Apply(os, L(ExcludeAgent()));
        }
        catch (CrashException)
        {
        }
        os.Restart();
        os.SetValue(FakeOs.SystemWriterKey, "ExcludedBinaryPaths", Reg("REG_MULTI_SZ", L("D:\\other.exe")));  // someone else
        string id = (string)((Dictionary<string, object>)os.StoreRecords(Store)[0])["id"];
        Dictionary<string, object> next = Apply(os, L(QuoteAlg()));
        Dictionary<string, object> journal = (Dictionary<string, object>)((List<object>)next["journal"])[0];
        Equal("left_pending", journal["action"], "left pending");
        Contains((string)journal["msg"], "neither the value written nor the value found", "why");
        Dictionary<string, object> undoOp = (Dictionary<string, object>)((List<object>)Record(os, id)["undo"])[0];
        Dictionary<string, object> rollback = BackupEngine.Apply(os, L(undoOp), Store, null, 20, id, false);
        StatusesAre(rollback, "refused");
        Contains((string)rollback["msg"], "backup " + id + " is pending", "a pending record is never rolled back");
    }

    /// The listing returns trusted records as text, newest first; a false rollback_of claim makes a record untrusted.
    public static void TestListingReportsTrustAndClaims()
    {
        FakeOs os = SmallHost();
        string first = (string)Apply(os, L(QuoteAlg()))["backup_id"];
        string second = (string)Rollback(os, first)["backup_id"];
        Dictionary<string, object> listing = BackupEngine.ListBackups(os, Store, 5);
        List<object> backups = (List<object>)listing["backups"];
        Equal(2, backups.Count, "two backups");
        Dictionary<string, object> newest = (Dictionary<string, object>)backups[0];
        Equal(second, newest["id"], "newest first");
        Equal(true, newest["trusted"], "trusted");
        Equal("2026-01-01T00:00:00.000Z", newest["created"], "created from the id");
        Equal(Record(os, second), BackupJson.Parse((string)newest["record"]), "the record's text");
        Equal(true, Path(listing, "store", "secure"), "the store is secure");

        // A record claiming to roll back the first one while its operations are not the first one's undo.
        Dictionary<string, object> forged = Record(os, second);
        forged["id"] = "20260101T000000000Z-0000ffff";
        forged["operations"] = L(ExcludeAgent());
        os.AddStore(Store, L(forged), null);
        Dictionary<string, object> claim = (Dictionary<string, object>)((List<object>)BackupEngine.ListBackups(os, Store, 5)["backups"])[0];
        Equal(false, claim["trusted"], "a false claim is untrusted");
        Contains((string)claim["error"], "its label says it rolled back " + first, "why");
    }

    /// The probe's path section: an unreadable file is grouped under null, a missing folder is absent, a listing
    /// failure is an error with the folder still existing (never "absent").
    public static void TestPathSecuritySectionNeverSaysAbsentForUnreadable()
    {
        FakeOs os = SmallHost();
        os.Node(Filemaps + "\\c.cdf-ms").Unreadable = true;
        Dictionary<string, object> section = BackupEngine.PathSecurity(os, Filemaps, true, 1);
        Equal(true, section["exists"], "exists");
        Contains((string)section["sddl"], "O:" + TI, "the folder's descriptor");
        List<object> groups = (List<object>)Path(section, "files", "descriptors");
        Equal(2, groups.Count, "one readable group and the unreadable one");
        Equal(M("sddl", null, "count", 1L, "samples", L("c.cdf-ms")), groups[1], "the unreadable file");
        Equal(L("a.cdf-ms"), ((Dictionary<string, object>)groups[0])["samples"], "samples are capped");
        Equal(false, BackupEngine.PathSecurity(os, "C:\\Windows\\winsxs\\nothere", true, 5)["exists"], "a missing folder is absent");

        os.Node(Filemaps).Unreadable = true;
        section = BackupEngine.PathSecurity(os, Filemaps, false, 5);
        Equal(true, section["exists"], "an unreadable folder still exists");
        Contains((string)section["error"], "security cannot be read", "error");
    }

    /// Another apply holding the lock: a clean failure, nothing done.
    public static void TestLockHeldElsewhereFailsCleanly()
    {
        FakeOs os = SmallHost();
        os.LockBusy = true;
        Dictionary<string, object> result = Apply(os, L(QuoteAlg()));
        Assert((bool)result["failed"] && !(bool)result["changed"], "failed, not changed");
        Contains((string)result["msg"], "another apply holds Global\\backupready.windows.apply", "msg");
        Assert(os.Node(Store) == null, "nothing done");
        // Third review #6: a dry run takes no lock (it writes nothing): it answers while a real apply holds the lock.
        Dictionary<string, object> dry = BackupEngine.Apply(os, L(QuoteAlg()), Store, null, 20, null, true);
        Assert(!(bool)dry["failed"], "check mode does not wait for the lock: " + dry["msg"]);
        StatusesAre(dry, "would_apply");
    }

    /// Records are sorted-key, ASCII JSON (identical bytes on 5.1 and 7), written through a temporary file.
    public static void TestRecordsAreDeterministicJson()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> result = BackupEngine.Apply(os, L(QuoteAlg()), Store, M("zone", "b", "ticket", "CHG-\u00e9"), 20, null, false);
        string text = os.ReadText((string)result["backup_path"]);
        Equal(BackupJson.Dump(BackupJson.Parse(text)) + "\n", text, "the text is the canonical dump");
        Contains(text, "\"label\": {\n  \"ticket\": \"CHG-\\u00e9\",\n  \"zone\": \"b\"\n },", "keys sorted, non-ASCII escaped, indent 1");
        Assert(text.StartsWith("{\n \"created\": "), "keys are sorted: " + text.Substring(0, 40));
        Assert(os.Calls.Contains("pending_written -1") && os.Calls.Contains("committed -1"), "pending then committed");
    }

    /// The fake itself: writing a folder's DACL propagates inheritable ACEs to its unprotected files (after their
    /// explicit ACEs, in order, ID set, OI/CI cleared); a protected file is untouched.
    public static void TestFakePropagatesInheritableAces()
    {
        FakeOs os = SmallHost();
        os.Node(Filemaps + "\\c.cdf-ms").DaclFlags = new List<string> { "P", "AI" };
        os.WriteSecurity(Filemaps + "\\a.cdf-ms", "O:BAD:(A;;FR;;;SY)");
        os.WriteSecurity(Filemaps, "O:BAD:P(A;OICI;FA;;;BA)(A;CI;FR;;;BU)(A;OICIIO;GA;;;CO)");
        Equal("O:BAG:SYD:AI(A;;FR;;;SY)(A;ID;FA;;;BA)(A;ID;GA;;;BA)", os.ReadSecurity(Filemaps + "\\a.cdf-ms", false), "a file inherits OI ACEs");
        Contains(os.ReadSecurity(Filemaps + "\\c.cdf-ms", false), "D:PAI(A;ID;FA;;;" + TI + ")", "a protected file is untouched");
    }

    /// The allow-list, by hand: another executable, Everyone on a service, a user owner on filemaps.
    public static void TestAllowListRefusesWhatTheCollectionNeverWrites()
    {
        Dictionary<string, object> evil = M("op", "registry_value", "key", AlgKey, "name", "ImagePath",
            "expect", Reg("REG_EXPAND_SZ", "%SystemRoot%\\System32\\alg.exe"), "set", Reg("REG_EXPAND_SZ", "C:\\Users\\Public\\evil.exe"));
        Contains(AllowList.Refusal(evil, "C:\\Windows", 16, true), "does not run the same command", "another executable, even in a rollback");
        Dictionary<string, object> everyone = M("op", "service_security", "service", "CryptSvc", "expect", "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)",
            "set", "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;GA;;;WD)");
        Contains(AllowList.Refusal(everyone, "C:\\Windows", null, false), "may only gain or lose the System Writer's ACE", "Everyone");
        Dictionary<string, object> owner = M("op", "path_security", "path", Filemaps, "target", "folder", "expect", "O:BAD:P(A;;FA;;;BA)",
            "set", "O:" + User + "D:P(A;;FA;;;BA)");
        Contains(AllowList.Refusal(owner, "C:\\Windows", null, false), "the owner may only become", "a user owner");
        Assert(AllowList.Refusal(owner, "C:\\Windows", null, true) == null, "a verified rollback may restore a user owner");
    }

    // ---- the second review: links, the store's owner, unknown outcomes, the lock, retention, labels ------------------

    private const string System32 = "C:\\Windows\\System32";
    private const string System32Sddl = "O:" + TI + "G:SYD:PAI(A;OICI;FA;;;" + TI + ")(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)";
    private const string UserOwned = "O:" + User + "D:P(A;OICI;FA;;;" + User + ")";

    private static void Refused(Dictionary<string, object> result, string why)
    {
        Assert((bool)result["failed"] && !(bool)result["changed"], "failed and not changed: " + result["msg"]);
        Contains((string)result["msg"], why, "msg");
    }

    /// Second review #1: a folder on the store's way that is a junction (a user may make one where Users create folders: the
    /// root of a data drive, %ProgramData%) would take the store, its DACL and its records into the junction's target.
    public static void TestAStoreReachedThroughAJunctionIsRefused()
    {
        FakeOs os = SmallHost();
        os.AddNode(System32, true, System32Sddl);
        os.AddLink("D:\\data", System32, true, UserOwned);
        Dictionary<string, object> world = os.ToWorld();
        foreach (bool checkMode in new bool[] { true, false })
        {
            Dictionary<string, object> result = BackupEngine.Apply(os, L(QuoteAlg()), "D:\\data\\backups", null, 20, null, checkMode);
            Refused(result, "D:\\data is a reparse point (a junction, symbolic link or mount point): links are never followed");
        }
        Equal(world, os.ToWorld(), "nothing written");
        Assert(os.Node(System32 + "\\backups") == null, "nothing created in the junction's target");
        Equal(System32Sddl, os.ReadSecurity(System32, false), "the target's DACL is untouched");

        // The default store, %ProgramData%\backupready made a junction by a user before the first apply.
        FakeOs other = SmallHost();
        other.AddNode(System32, true, System32Sddl);
        other.AddLink("C:\\ProgramData\\backupready", System32, true, UserOwned);
        Refused(Apply(other, L(QuoteAlg())), "C:\\ProgramData\\backupready is a reparse point");
        Assert(other.Node(System32 + "\\backups") == null, "nothing created in System32");
        Equal(System32Sddl, other.ReadSecurity(System32, false), "System32's DACL is untouched");
        Contains((string)Path(BackupEngine.ListBackups(other, Store, 5), "store", "error"), "C:\\ProgramData\\backupready is a reparse point", "the probe says so");
    }

    /// Second review #1: a junction named like a backup id in the store is never entered: not read, not resolved, not deleted.
    public static void TestABackupEntryThatIsAJunctionIsNeverEntered()
    {
        FakeOs os = SmallHost();
        Apply(os, L(QuoteAlg()));
        string target = System32 + "\\config";
        os.AddNode(target, true, "O:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");  // would pass the trust rule if followed
        os.AddFile(target + "\\SAM", "O:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)", "a registry hive");
        string planted = "20250101T000000000Z-0000beef";
        string link = BackupEngine.Join(Store, planted);
        os.AddLink(link, target, true, "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
        Dictionary<string, object> listed = (Dictionary<string, object>)((List<object>)BackupEngine.ListBackups(os, Store, 5)["backups"])[1];
        Equal(planted, listed["id"], "the junction is listed");
        Equal(false, listed["trusted"], "untrusted");
        Contains((string)listed["error"], link + " is a reparse point", "why");
        Dictionary<string, object> result = Apply(os, L(CryptSvcAuto()));
        StatusesAre(result, "applied");
        Equal(0, ((List<object>)result["journal"]).Count, "nothing resolved or discarded");
        Assert(os.Node(link) != null && os.Node(target + "\\SAM") != null, "the junction and its target's files are left alone");
        Contains(BackupEngine.Apply(os, L(CryptSvcManual()), Store, null, 20, planted, false)["msg"] as string, "is a reparse point", "never rolled back");
    }

    private const string HostsFile = System32 + "\\drivers\\etc\\hosts";
    private const string FileSddl = "O:" + TI + "G:SYD:AI(A;ID;FA;;;" + TI + ")(A;ID;0x1200a9;;;BA)";

    private static Dictionary<string, object> FilemapsFolderOp(FakeOs os)
    {
        return M("op", "path_security", "path", Filemaps, "target", "folder", "expect", Sddl.OwnerAndDacl(os.ReadSecurity(Filemaps, false)),
            "set", "O:BAD:PAI(A;OICI;FA;;;" + TI + ")(A;OICI;0x1200a9;;;BA)(A;OICI;FA;;;SY)");
    }

    /// Second review #1: a hard link or a symbolic link planted in filemaps (writable by Users when its DACL is broken) would get
    /// the planned owner and DACL written onto a file elsewhere, by the files write or by the folder's propagation.
    public static void TestLinksInFilemapsAreRefused()
    {
        FakeOs os = SmallHost();
        os.AddFile(HostsFile, FileSddl, "127.0.0.1 localhost");
        os.AddHardLink(Filemaps + "\\zz.cdf-ms", HostsFile);
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = Apply(os, L(FilesOp()));
        StatusesAre(result, "refused");
        Contains((string)result["msg"], Filemaps + "\\zz.cdf-ms has 2 hard links", "msg");
        StatusesAre(Apply(os, L(FilemapsFolderOp(os))), "refused");
        Equal(FileSddl, os.ReadSecurity(HostsFile, false), "the file elsewhere keeps its owner and DACL");
        Equal(world, os.ToWorld(), "nothing written");

        FakeOs other = SmallHost();
        other.AddFile(HostsFile, FileSddl, "127.0.0.1 localhost");
        other.AddLink(Filemaps + "\\zz.cdf-ms", HostsFile, false, FileSddl);
        Contains((string)Apply(other, L(FilesOp()))["msg"], Filemaps + "\\zz.cdf-ms is a reparse point", "a symbolic link");
        Contains((string)Apply(other, L(FilemapsFolderOp(other)))["msg"], Filemaps + "\\zz.cdf-ms is a reparse point", "the folder too");
        Equal(FileSddl, other.ReadSecurity(HostsFile, false), "the link's target keeps its owner and DACL");
    }

    /// Third review #2: backup_dir is taken in the one spelling every check of the store walks; a drive's root ("C:\\", or "C:",
    /// the current folder of drive C), '/', '..', \\?\, doubled '\\' or a name Windows would trim are refused, nothing done.
    public static void TestBackupDirMustBeWrittenTheOneWayWindowsReadsIt()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        string[] bad = new string[] { "C:\\", "C:", "C:ProgramData", "C:\\ProgramData/backupready/backups", "C:\\ProgramData\\..\\Windows",
            "C:\\ProgramData\\.\\backupready", "\\\\?\\C:\\ProgramData\\backupready\\backups", "C:\\ProgramData\\\\backupready",
            "C:\\ProgramData\\backupready.\\backups", "C:\\ProgramData\\backupready \\backups", "\\\\server\\share\\backups", "backups", "",
            "C:\\PROGRA~3\\backupready\\backups", "C:\\ProgramData\\NUL\\backups", "C:\\ProgramData\\com1.txt\\backups",
            "C:\\ProgramData\\CONIN$\\backups", "C:\\ProgramData\\LPT\u00b2\\backups", "C:\\ProgramData\\NUL .txt\\backups" };
        foreach (string dir in bad)
        {
            foreach (bool checkMode in new bool[] { true, false })
                Refused(BackupEngine.Apply(os, L(QuoteAlg()), dir, null, 20, null, checkMode), "backup_dir must be ");
            Contains((string)Path(BackupEngine.ListBackups(os, dir, 1), "store", "error"), "backup_dir must be ", "listing of " + dir);
        }
        Equal(world, os.ToWorld(), "nothing written");
        Equal(null, BackupEngine.StorePathProblem(Store), "the default store");
        Equal(null, BackupEngine.StorePathProblem(Store + "\\"), "a trailing backslash");
    }

    /// A store found weaker is protected again, and that propagates into what it holds: when it holds a link (one could be
    /// planted while it was weak) it is refused instead, and the link's target keeps its DACL.
    public static void TestAWeakStoreHoldingALinkIsNotProtectedAgain()
    {
        FakeOs os = SmallHost();
        Apply(os, L(QuoteAlg()));
        os.WriteSecurity(Store, "D:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;BU)");
        os.AddNode(System32, true, System32Sddl);
        os.AddLink(BackupEngine.Join(Store, "20250101T000000000Z-0000beef"), System32, true, UserOwned);
        Refused(Apply(os, L(CryptSvcAuto())), "is not protected again while it holds a link");
        Equal(System32Sddl, os.ReadSecurity(System32, false), "the link's target keeps its DACL");
    }

    /// Third review #3: the backupready parent is taken as the engine's only when it holds nothing but the store: an existing
    /// Administrators-owned folder of that name holding other folders is never re-protected (its OICI DACL would reach them).
    public static void TestAParentHoldingOtherFoldersIsNeverTakenOver()
    {
        FakeOs os = SmallHost();
        string theirs = "O:BAG:SYD:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;BU)";
        os.AddNode("C:\\ProgramData\\backupready", true, theirs);
        os.AddNode("C:\\ProgramData\\backupready\\tools", true, theirs);
        os.AddFile("C:\\ProgramData\\backupready\\tools\\notes.txt", theirs, "mine");
        Dictionary<string, object> world = os.ToWorld();
        Refused(BackupEngine.Apply(os, L(QuoteAlg()), Store, null, 20, null, false),
            "C:\\ProgramData\\backupready holds the folder 'tools', which is not a backup store");
        Equal(theirs, os.ReadSecurity("C:\\ProgramData\\backupready", false), "it keeps its DACL");
        Equal(world, os.ToWorld(), "nothing written");

        // Beside the store: a user's folder, a junction, a folder that cannot be read. Each is named with its reason.
        string parent = "C:\\ProgramData\\backupready";
        FakeOs users = SmallHost();
        users.AddNode(parent, true, theirs);
        users.AddNode(parent + "\\mine", true, UserOwned);
        Refused(BackupEngine.Apply(users, L(QuoteAlg()), Store, null, 20, null, false),
            parent + " holds the folder 'mine', which is not a backup store (" + parent + "\\mine is owned by " + User);
        FakeOs junction = SmallHost();
        junction.AddNode(System32, true, System32Sddl);
        junction.AddNode(parent, true, theirs);
        junction.AddLink(parent + "\\other", System32, true, "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
        Refused(BackupEngine.Apply(junction, L(QuoteAlg()), Store, null, 20, null, false), parent + "\\other is a reparse point");
        Equal(System32Sddl, junction.ReadSecurity(System32, false), "the junction's target keeps its DACL");
        FakeOs unreadable = SmallHost();
        unreadable.AddNode(parent, true, theirs);
        unreadable.AddNode(parent + "\\locked", true, "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)").Unreadable = true;
        Dictionary<string, object> locked = BackupEngine.Apply(unreadable, L(QuoteAlg()), Store, null, 20, null, false);
        Refused(locked, parent + " holds the folder 'locked', which is not a backup store (it cannot be read: access denied");
        Contains((string)Path(BackupEngine.ListBackups(unreadable, Store, 1), "store", "error"), "holds the folder 'locked'", "the listing says so too");

        // Another store of this collection beside it (another backup_dir) is not a reason to refuse.
        FakeOs two = SmallHost();
        Equal(false, (bool)BackupEngine.Apply(two, L(QuoteAlg()), "C:\\ProgramData\\backupready\\test", null, 20, null, false)["failed"], "a first store");
        Dictionary<string, object> second = BackupEngine.Apply(two, L(CryptSvcAuto()), Store, null, 20, null, false);
        Equal(false, (bool)second["failed"], "a second store beside it: " + second["msg"]);
    }

    /// Third review #1: a folder write propagates to every depth, and a subfolder (its own ACEs, maybe a user's) stays open to
    /// new links while propagation runs: a folder holding a folder is refused, nothing written, and one made between the
    /// check and the write is found by the walk again right before the write.
    public static void TestAFolderWithSubfoldersIsNeverWritten()
    {
        FakeOs os = SmallHost();
        os.AddFile(HostsFile, FileSddl, "127.0.0.1 localhost");
        os.AddNode(Filemaps + "\\sub", true, "O:BUD:AI(A;OICI;FA;;;BU)");
        os.AddHardLink(Filemaps + "\\sub\\zz.cdf-ms", HostsFile);
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = Apply(os, L(FilemapsFolderOp(os)));
        StatusesAre(result, "refused");
        Contains((string)result["msg"], Filemaps + " holds the folder 'sub': a folder's permissions reach everything below it", "msg");
        Equal(FileSddl, os.ReadSecurity(HostsFile, false), "the file elsewhere keeps its owner and DACL");
        Equal(world, os.ToWorld(), "nothing written");

        FakeOs late = SmallHost();
        late.AddFile(HostsFile, FileSddl, "127.0.0.1 localhost");
        bool planted = false;
        late.OnStep = delegate(string stage, int index)
        {
            if (stage == "pending_written" && !planted)
            {
                planted = true;
                late.AddNode(Filemaps + "\\late", true, "O:BUD:AI(A;OICI;FA;;;BU)");
                late.AddHardLink(Filemaps + "\\late\\zz.cdf-ms", HostsFile);
            }
        };
        result = Apply(late, L(FilemapsFolderOp(late)));
        Contains((string)result["msg"], Filemaps + " holds the folder 'late'", "made after the check");
        Equal(false, (bool)result["changed"], "nothing written");
        Equal(FileSddl, late.ReadSecurity(HostsFile, false), "the file elsewhere keeps its owner and DACL");
    }

    // The self-test sandbox (docs/selftest.md): a folder whose owner and DACL mimic a broken filemaps, under
    // %ProgramData%\backupready-selftest, which must be SYSTEM's and Administrators' alone and reached without a link.
    private const string SelftestRoot = "C:\\ProgramData\\backupready-selftest";
    private const string Sandbox = SelftestRoot + "\\run00001";
    private const string SandboxSddl = "O:" + User + "D:PAI(D;OICI;FR;;;BU)(A;OICI;FA;;;" + TI + ")(A;OICI;0x1200a9;;;BA)";

    private static FakeOs SandboxHost(string selftestSddl)
    {
        FakeOs os = SmallHost();
        os.AddNode(SelftestRoot, true, selftestSddl);
        os.AddNode(Sandbox, true, SandboxSddl);
        return os;
    }

    private static Dictionary<string, object> SandboxFolderOp(string path)
    {
        return M("op", "path_security", "path", path, "target", "folder", "expect", SandboxSddl,
            "set", "O:BAD:PAI(A;OICI;FA;;;" + TI + ")(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BU)");
    }

    public static void TestTheSelftestSandboxIsWrittenAndRolledBack()
    {
        FakeOs os = SandboxHost(BackupEngine.StoreSddl);
        Dictionary<string, object> before = os.ToWorld();
        Dictionary<string, object> result = Apply(os, L(SandboxFolderOp(Sandbox)));
        StatusesAre(result, "applied");
        Contains(os.ReadSecurity(Sandbox, false), "O:BAD:PAI(", "the sandbox got the fixed owner and DACL");
        string id = (string)result["backup_id"];
        StatusesAre(BackupEngine.Apply(os, RollbackOps(Record(os, id)), Store, null, 20, id, false), "applied");
        Equal(SandboxSddl, Sddl.OwnerAndDacl(os.ReadSecurity(Sandbox, false)), "the rollback restores the owner and DACL");
        Assert(before.Count > 0, "a world was read");
    }

    /// A sandbox under a backupready-selftest folder a user owns (%ProgramData% lets Users create folders) is never taken over.
    public static void TestASelftestSandboxUnderAFolderAUserMadeIsRefused()
    {
        FakeOs os = SandboxHost(UserOwned);
        Dictionary<string, object> world = os.ToWorld();
        foreach (bool checkMode in new bool[] { true, false })
        {
            Dictionary<string, object> result = BackupEngine.Apply(os, L(SandboxFolderOp(Sandbox)), Store, null, 20, null, checkMode);
            StatusesAre(result, "refused");
            Contains((string)result["msg"], "the self-test sandbox is not written: " + SelftestRoot + ": its owner is " + User, "msg");
        }
        Equal(world, os.ToWorld(), "nothing written");
    }

    /// A backupready-selftest folder that is a junction would carry the write to the folder of the same name at its target.
    public static void TestASelftestSandboxReachedThroughAJunctionIsRefused()
    {
        FakeOs os = SmallHost();
        os.AddNode(System32, true, System32Sddl);
        os.AddNode(System32 + "\\run00001", true, SandboxSddl);
        os.AddLink(SelftestRoot, System32, true, BackupEngine.StoreSddl);
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = Apply(os, L(SandboxFolderOp(Sandbox)));
        StatusesAre(result, "refused");
        Contains((string)result["msg"], SelftestRoot + " is a reparse point", "msg");
        Equal(world, os.ToWorld(), "nothing written");
        Equal(SandboxSddl, Sddl.OwnerAndDacl(os.ReadSecurity(System32 + "\\run00001", false)), "the folder at the target is untouched");
    }

    /// The sandbox's checks are of its own spelling: another case of the same path (which could reach another folder on a
    /// volume where case sensitivity is on) is refused, in check mode too, and nothing is written.
    public static void TestASelftestSandboxSpelledOtherwiseIsRefused()
    {
        FakeOs os = SandboxHost(BackupEngine.StoreSddl);
        Dictionary<string, object> world = os.ToWorld();
        string other = Sandbox.Replace("ProgramData", "PROGRAMDATA");
        foreach (bool checkMode in new bool[] { true, false })
        {
            Dictionary<string, object> result = BackupEngine.Apply(os, L(SandboxFolderOp(other)), Store, null, 20, null, checkMode);
            StatusesAre(result, "refused");
            Contains((string)result["msg"], "is not spelled " + PyText.Quoted(Sandbox), "msg");
        }
        Equal(world, os.ToWorld(), "nothing written");
    }

    private delegate void Step();

    private static void Throws(Step step, string part)
    {
        try
        {
            step();
        }
        catch (Exception error)
        {
            Contains(error.Message, part, "the error");
            return;
        }
        throw new AssertionFailed("no error; expected one saying " + part);
    }

    public static void TestTheSelftestSandboxIsMadeAndRemovedWhole()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        Equal(true, SelftestSandbox.Create(os, "run00001"), "made");
        Equal(false, SelftestSandbox.Create(os, "run00001"), "made once");
        Equal(BackupEngine.StoreSddl, Sddl.OwnerAndDacl(os.ReadSecurity(SelftestRoot, false)), "the root is SYSTEM's and Administrators'");
        Contains(os.ReadSecurity(Sandbox, false), "(D;OICI;FR;;;BU)", "the run folder denies Users reading, as a broken filemaps");
        Equal(3, os.ListFiles(Sandbox).Length, "three files");
        Contains(os.ReadSecurity(Sandbox + "\\" + SelftestSandbox.FileNames[0], false), "(D;ID;FR;;;BU)", "the files inherit it");
        Equal(L(Sandbox), SelftestSandbox.Remove(os, "run00001"), "removed");
        Equal(world, os.ToWorld(), "nothing left, the root included");
        Equal(0, SelftestSandbox.Remove(os, "run00001").Count, "nothing to remove");
        Assert(SelftestSandbox.IsServiceOfRun("BackupReady-Selftest-run00001-DRV", "run00001"), "the driver is the run's");
        Assert(!SelftestSandbox.IsServiceOfRun("backupready-selftest-run00002", "run00001"), "another run's is not");
    }

    private static Dictionary<string, object> SandboxRecord(object operations, object undo)
    {
        return M("operations", operations, "undo", undo);
    }

    private static Dictionary<string, object> SandboxExclusion(List<object> before, List<object> after)
    {
        return M("op", "registry_value", "key", WriterKey, "name", "ExcludedBinaryPaths",
            "expect", before == null ? Reg("missing", null) : Reg("REG_MULTI_SZ", before), "set", Reg("REG_MULTI_SZ", after));
    }

    /// Removing the sandbox deletes the backups of this run only (every operation and undo on its sandbox, _selftest.backup_of_run):
    /// a backup of a real change, a mixed or forged record, another run's are never deleted.
    public static void TestRemovingTheSandboxDeletesItsBackupsAndNoOther()
    {
        FakeOs os = SandboxHost(BackupEngine.StoreSddl);
        string real = (string)Apply(os, L(QuoteAlg()))["backup_id"];
        string mixed = (string)Apply(os, L(ExcludeAgent(), SandboxFolderOp(Sandbox)))["backup_id"];
        Dictionary<string, object> ownResult = Apply(os, L(M("op", "registry_value", "key", WriterKey, "name", "ExcludedBinaryPaths",
            "expect", Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe")),
            "set", Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe", Sandbox + "\\Self Test\\selftest.exe")))));
        StatusesAre(ownResult, "applied");
        string own = (string)ownResult["backup_id"];
        string undone = (string)Rollback(os, own)["backup_id"];
        Equal(4, os.StoreRecords(Store).Count, "four records");
        Equal(L(own, undone), BackupEngine.DeleteSelftestBackups(os, Store, "run00001", true), "check mode names them");
        Equal(4, os.StoreRecords(Store).Count, "check mode deletes nothing");
        Equal(0, SelftestSandbox.RemoveBackups(os, Store, "run00002", false).Count, "another run has none");
        Equal(L(own, undone), SelftestSandbox.RemoveBackups(os, Store, "run00001", false), "deleted");
        List<string> left = new List<string>();
        foreach (object record in os.StoreRecords(Store))
            left.Add((string)((Dictionary<string, object>)record)["id"]);
        left.Sort(StringComparer.Ordinal);
        List<string> expected = new List<string>(new string[] { real, mixed });
        expected.Sort(StringComparer.Ordinal);
        Equal(String.Join(",", expected.ToArray()), String.Join(",", left.ToArray()), "the real and the mixed backups stay");

        string entry = Sandbox + "\\Self Test\\selftest.exe";
        Dictionary<string, object> folderOp = SandboxFolderOp(Sandbox);
        Assert(SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(folderOp), L(folderOp)), "run00001"), "the folder");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(folderOp), L(QuoteAlg())), "run00001"), "a forged undo");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(), L()), "run00001"), "no operations");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(SandboxFolderOp(Sandbox.ToLowerInvariant())), L()), "run00001"),
            "another spelling of the folder");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(folderOp), L()), "run00002"), "another run's folder");
        Assert(SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(SandboxExclusion(null, L(entry))), L()), "run00001"),
            "the entry added to a missing value");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(SandboxExclusion(L(), L(entry, "C:\\x.exe"))), L()), "run00001"),
            "the entry and another");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(SandboxExclusion(L("C:\\y.exe"), L("C:\\x.exe", entry))), L()), "run00001"),
            "an entry replaced");
        Assert(SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(SandboxExclusion(L("C:\\x.exe", entry), L("C:\\x.exe"))), L()), "run00001"),
            "the entry removed (a rollback)");
        Assert(SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(M("op", "service_security", "service", "BACKUPREADY-SELFTEST-run00001-drv",
            "expect", "D:", "set", "D:")), L()), "run00001"), "the driver's descriptor");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(M("op", "service_security", "service", "backupready-selftest-run00001-x",
            "expect", "D:", "set", "D:")), L()), "run00001"), "a service that is not the run's");
        Assert(!SelftestSandbox.IsBackupOfRun("C:\\Windows", SandboxRecord(L(M("op", "registry_value", "key",
            "HKLM\\SYSTEM\\CurrentControlSet\\Services\\backupready-selftest-run00001", "name", "Start",
            "expect", Reg("REG_DWORD", 4L), "set", Reg("REG_DWORD", 2L))), L()), "run00001"), "a value other than ImagePath");
    }

    /// The run's ExcludedBinaryPaths entry still on the host (its rollback failed): its backups are the way to undo it, so
    /// none of the run's backups is deleted.
    public static void TestTheBackupsOfARunWhoseEntryIsStillThereAreKept()
    {
        FakeOs os = SandboxHost(BackupEngine.StoreSddl);
        StatusesAre(Apply(os, L(ExcludeAgent())), "applied");
        Dictionary<string, object> added = Apply(os, L(M("op", "registry_value", "key", WriterKey, "name", "ExcludedBinaryPaths",
            "expect", Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe")),
            "set", Reg("REG_MULTI_SZ", L("C:\\Program Files\\Agent\\agent.exe", Sandbox + "\\Self Test\\selftest.exe")))));
        StatusesAre(added, "applied");
        Equal(0, BackupEngine.DeleteSelftestBackups(os, Store, "run00001", false).Count, "kept while the entry is there");
        Equal(2, os.StoreRecords(Store).Count, "the backup of the add is still there");
        Rollback(os, (string)added["backup_id"]);
        Equal(2, BackupEngine.DeleteSelftestBackups(os, Store, "run00001", false).Count, "deleted once the entry is gone");
    }

    /// Removing a sandbox's backups waits for no lock in check mode (it deletes nothing), and says so when another apply
    /// holds the lock for a real removal, deleting nothing.
    public static void TestRemovingTheSandboxBackupsAndTheLock()
    {
        FakeOs os = SandboxHost(BackupEngine.StoreSddl);
        string own = (string)Apply(os, L(SandboxFolderOp(Sandbox)))["backup_id"];
        os.LockBusy = true;
        Equal(L(own), BackupEngine.DeleteSelftestBackups(os, Store, "run00001", true), "check mode answers without the lock");
        Throws(delegate { BackupEngine.DeleteSelftestBackups(os, Store, "run00001", false); },
            "another apply holds Global\\backupready.windows.apply: waited 60 seconds, no backup was deleted");
        Equal(1, os.StoreRecords(Store).Count, "nothing deleted");
        os.LockBusy = false;
        Equal(L(own), BackupEngine.DeleteSelftestBackups(os, Store, "run00001", false), "deleted once the lock is free");
    }

    /// A make that stops half-way deletes what it made; a folder left open by one is completed; one that is not whole
    /// any more is named, not changed.
    public static void TestAHalfMadeSandboxIsCompletedOrNamed()
    {
        FakeOs os = SmallHost();
        os.FailWriteOf = SelftestSandbox.FileNames[1];
        Throws(delegate { SelftestSandbox.Create(os, "run00001"); }, "injected failure");
        Assert(!os.DirectoryExists(Sandbox), "the folder the failed make made is deleted again");
        os.FailWriteOf = null;

        os.AddNode(Sandbox, true, SelftestSandbox.OpenSddl);
        os.WriteTextAtomic(Sandbox, SelftestSandbox.FileNames[0], "x", SelftestSandbox.FileSddl);
        Equal(true, SelftestSandbox.Create(os, "run00001"), "the half-made folder is completed");
        Equal(3, os.ListFiles(Sandbox).Length, "three files");
        Contains(os.ReadSecurity(Sandbox, false), "(D;OICI;FR;;;BU)", "its DACL set");
        Equal(false, SelftestSandbox.Create(os, "run00001"), "whole: nothing to do");

        os.DeleteFile(Sandbox + "\\" + SelftestSandbox.FileNames[2]);
        Dictionary<string, object> world = os.ToWorld();
        Throws(delegate { SelftestSandbox.Create(os, "run00001"); }, "exists without " + SelftestSandbox.FileNames[2]);
        Equal(world, os.ToWorld(), "named, not changed");
    }

    public static void TestTheSelftestSandboxIsNeverMadeOrRemovedThroughSomethingElse()
    {
        FakeOs os = SandboxHost(UserOwned);
        Dictionary<string, object> world = os.ToWorld();
        foreach (string runId in new string[] { "..", "run0001", "run00001\\x", "run00001." })
            Throws(delegate { SelftestSandbox.Create(os, runId); }, "run_id must be 8 to 32 ASCII letters and digits");
        Throws(delegate { SelftestSandbox.Create(os, "run00002"); }, SelftestRoot + ": its owner is " + User);
        Throws(delegate { SelftestSandbox.Remove(os, "run00001"); }, SelftestRoot + ": its owner is " + User);
        Equal(world, os.ToWorld(), "nothing made, nothing deleted");

        FakeOs nested = SandboxHost(BackupEngine.StoreSddl);
        nested.AddNode(Sandbox + "\\sub", true, UserOwned);
        Throws(delegate { SelftestSandbox.Remove(nested, "run00001"); }, "holds a folder");
        Assert(nested.DirectoryExists(Sandbox + "\\sub"), "left as it is");
    }

    /// Second review #2: backup_dir naming a folder the engine did not make (filemaps, a drive's root) is refused, never re-ACLed.
    public static void TestAFolderNamedAsTheStoreIsNeverTakenOver()
    {
        FakeOs os = SmallHost();
        Dictionary<string, object> world = os.ToWorld();
        string filemaps = os.ReadSecurity(Filemaps, false);
        foreach (bool checkMode in new bool[] { true, false })
            Refused(BackupEngine.Apply(os, L(QuoteAlg()), Filemaps, null, 20, null, checkMode),
                Filemaps + " is owned by " + TI + ", not SYSTEM or Administrators: it is not a backup store this collection made, and it is never taken over");
        Equal(filemaps, os.ReadSecurity(Filemaps, false), "filemaps keeps its owner and DACL");
        Equal(world, os.ToWorld(), "nothing written");

        // Owned by Administrators but holding something else: D:\data holds a folder of its own.
        string root = "O:BAG:SYD:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;CI;0x116;;;BU)";
        os.AddNode("D:\\data", true, root);
        os.AddNode("D:\\data\\ProgramData", true, root);
        Refused(BackupEngine.Apply(os, L(QuoteAlg()), "D:\\data", null, 20, null, false), "D:\\data holds the folder 'ProgramData', which is not a backup");
        Equal(root, os.ReadSecurity("D:\\data", false), "it keeps its DACL");
        // An Administrators-owned folder holding a file of its own.
        os.AddNode("D:\\tools", true, root);
        os.AddFile("D:\\tools\\notes.txt", root, "mine");
        Refused(BackupEngine.Apply(os, L(QuoteAlg()), "D:\\tools", null, 20, null, false), "D:\\tools holds the file 'notes.txt'");
        Equal(root, os.ReadSecurity("D:\\tools", false), "it keeps its DACL");
        Equal(world, os.ToWorld(), "still nothing written");
    }

    /// Second review #3: a file of a pending files undo that cannot be read is unknown (left pending), never gone; a file that is
    /// not there any more is gone (it has nothing to restore).
    public static void TestPendingFilesThatCannotBeReadAreLeftPending()
    {
        FakeOs os = SmallHost();
        os.Faults.Add(new FakeFault { Index = 0, When = "crash_after_write" });
        try
        {
            Apply(os, L(FilesOp()));
            throw new AssertionFailed("the apply did not die");
        }
        catch (CrashException)
        {
        }
        os.Restart();
        string id = (string)((Dictionary<string, object>)os.StoreRecords(Store)[0])["id"];
        os.Node(Filemaps + "\\b.cdf-ms").Unreadable = true;
        Dictionary<string, object> journal = (Dictionary<string, object>)((List<object>)Apply(os, L(CryptSvcAuto()))["journal"])[0];
        Equal("left_pending", journal["action"], "unreadable: left pending");
        Contains((string)journal["msg"], "file b.cdf-ms cannot be read", "why");
        Equal("pending", Record(os, id)["status"], "still pending");

        os.Node(Filemaps + "\\b.cdf-ms").Unreadable = false;
        os.DeleteFile(Filemaps + "\\c.cdf-ms");
        journal = (Dictionary<string, object>)((List<object>)Apply(os, L(CryptSvcManual()))["journal"])[0];
        Equal("committed", journal["action"], "readable again, one file gone: committed");
        Equal(L("a.cdf-ms", "b.cdf-ms"), ((Dictionary<string, object>)((List<object>)Record(os, id)["undo"])[0])["names"], "the files still there");
    }

    private static string CrashAfterWrite(FakeOs os, List<object> ops, int index, string when)
    {
        os.Faults.Add(new FakeFault { Index = index, When = when });
        try
        {
            Apply(os, ops);
            throw new AssertionFailed("the apply did not die");
        }
        catch (CrashException)
        {
        }
        os.Restart();
        os.Faults.Clear();
        return (string)((Dictionary<string, object>)os.StoreRecords(Store)[0])["id"];
    }

    private static Dictionary<string, object> UndoOf(Dictionary<string, object> op)
    {
        Dictionary<string, object> undo = new Dictionary<string, object>(op);
        undo["expect"] = op["set"];
        undo["set"] = op["expect"];
        return undo;
    }

    /// Second review #4: a check-mode rollback of a pending backup judges it in memory as the real run will: would_apply where the
    /// real run applies, refused where it refuses; and nothing is written, the record stays pending.
    public static void TestACheckModeRollbackOfAPendingBackupAnswersAsTheRealRun()
    {
        FakeOs os = SmallHost();
        string id = CrashAfterWrite(os, L(QuoteAlg(), ExcludeAgent()), 0, "crash_after_write");
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> check = BackupEngine.Apply(os, L(UndoOf(QuoteAlg())), Store, null, 20, id, true);
        StatusesAre(check, "would_apply");
        Assert(!(bool)check["failed"], "not refused: " + check["msg"]);
        Equal(world, os.ToWorld(), "check mode writes nothing");
        Equal("pending", Record(os, id)["status"], "check mode resolves nothing");
        StatusesAre(BackupEngine.Apply(os, L(UndoOf(ExcludeAgent())), Store, null, 20, id, true), "refused");
        Dictionary<string, object> real = BackupEngine.Apply(os, L(UndoOf(QuoteAlg())), Store, null, 20, id, false);
        StatusesAre(real, "applied");
        Equal("committed", ((Dictionary<string, object>)((List<object>)real["journal"])[0])["action"], "resolved by the real run");

        // Its change unknown (someone changed the value since): refused in check mode as in the real run.
        FakeOs other = SmallHost();
        id = CrashAfterWrite(other, L(QuoteAlg()), 0, "crash_after_write");
        other.SetValue(FakeOs.ServiceKey("ALG"), "ImagePath", Reg("REG_EXPAND_SZ", "C:\\other.exe"));
        foreach (bool checkMode in new bool[] { true, false })
            Contains((string)BackupEngine.Apply(other, L(UndoOf(QuoteAlg())), Store, null, 20, id, checkMode)["msg"],
                "backup " + id + " is pending", "refused");

        // Never reached the host: nothing to roll back, in check mode as in the real run.
        FakeOs third = SmallHost();
        id = CrashAfterWrite(third, L(QuoteAlg()), 0, "crash_after_pending");
        Contains((string)BackupEngine.Apply(third, L(UndoOf(QuoteAlg())), Store, null, 20, id, true)["msg"],
            "backup " + id + " was interrupted before its change reached the host", "check mode");
        Contains((string)BackupEngine.Apply(third, L(UndoOf(QuoteAlg())), Store, null, 20, id, false)["msg"],
            "backup " + id + " is not in the store", "the real run discarded it first");
    }

    /// Second review #5: a write whose call failed and whose value cannot be read again may have reached the host: the record stays
    /// pending (the next apply judges it), the task says so and counts it as changed.
    public static void TestAWriteWhoseOutcomeCannotBeToldKeepsTheRecordPending()
    {
        FakeOs os = SmallHost();
        os.Faults.Add(new FakeFault { Index = 0, When = "after_write_unreadable" });
        Dictionary<string, object> result = Apply(os, L(ExcludeAgent(), CryptSvcAuto()));
        StatusesAre(result, "failed,not_run");
        Assert((bool)result["failed"] && (bool)result["changed"], "failed, and it may have changed");
        Contains((string)result["msg"], "whether HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter\\ExcludedBinaryPaths reached the host cannot be told, so the backup record stays pending", "msg");
        string id = (string)result["backup_id"];
        Assert(id != null, "the record is named");
        Equal("pending", Record(os, id)["status"], "left pending");
        Equal(2, ((List<object>)Record(os, id)["undo"]).Count, "with the undo of every planned change");

        Dictionary<string, object> next = Apply(os, L());
        Equal(M("id", id, "action", "committed", "msg", "1 of its 2 change(s) are on the host: committed with their undo"),
            ((List<object>)next["journal"])[0], "the next apply finds the write on the host");
        Equal(L(UndoOf(ExcludeAgent())), Record(os, id)["undo"], "its undo");
    }

    /// Second review #6: a named mutex another account created and denies: a clean failure, nothing done.
    public static void TestALockThatCannotBeOpenedFailsCleanly()
    {
        FakeOs os = SmallHost();
        os.LockDenied = true;
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = Apply(os, L(QuoteAlg()));
        Refused(result, "Global\\backupready.windows.apply cannot be opened by this account (another account created it or denies access), nothing was done");
        Equal(world, os.ToWorld(), "nothing written");
        Assert(os.Node(Store) == null, "no store");
    }

    /// Second review #7: retention never deletes the record just written, even when the clock went back and its id sorts first.
    public static void TestRetentionNeverPrunesTheRecordJustWritten()
    {
        FakeOs os = SmallHost();
        os.Clock = new DateTime(2026, 1, 1, 0, 0, 5, DateTimeKind.Utc);
        string first = (string)BackupEngine.Apply(os, L(CryptSvcAuto()), Store, null, 1, null, false)["backup_id"];
        os.Clock = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Dictionary<string, object> result = BackupEngine.Apply(os, L(CryptSvcManual()), Store, null, 1, null, false);
        StatusesAre(result, "applied");
        Equal(L(first), result["pruned"], "the older record by its write is pruned");
        Equal(result["backup_id"], ((Dictionary<string, object>)os.StoreRecords(Store)[0])["id"], "the record just written is kept");
        Equal(1, os.StoreRecords(Store).Count, "one record");
    }

    /// Second review #8: a label naming one backup and a rollback_of naming another are refused; a label alone is the rollback,
    /// verified, and relaxes the direction rule only then.
    public static void TestALabelAndARollbackOfNamingTwoBackupsAreRefused()
    {
        FakeOs os = SmallHost();
        string a = (string)Apply(os, L(QuoteAlg()))["backup_id"];
        string b = (string)Apply(os, L(ExcludeAgent()))["backup_id"];
        Dictionary<string, object> world = os.ToWorld();
        Dictionary<string, object> result = BackupEngine.Apply(os, RollbackOps(Record(os, a)), Store, M("rollback_of", b), 20, a, false);
        StatusesAre(result, "refused");
        Assert((bool)result["refused"], "refused");
        Contains((string)result["msg"], "outside what this collection may change: the label names backup '" + b + "' but the rollback is of '" + a + "'", "msg");
        StatusesAre(BackupEngine.Apply(os, RollbackOps(Record(os, a)), Store, M("rollback_of", b), 20, a, true), "refused");
        Equal(world, os.ToWorld(), "nothing written");

        Refused(Apply(os, L(UnquoteAlg())), "the quotes of a Win32 executable are only added");
        result = BackupEngine.Apply(os, RollbackOps(Record(os, a)), Store, M("rollback_of", a), 20, null, false);
        StatusesAre(result, "applied");
        Equal(M("rollback_of", a), Record(os, (string)result["backup_id"])["label"], "labelled");
        Equal(Reg("REG_EXPAND_SZ", "C:\\Program Files\\Agent\\agent.exe -k"), Service(os.ToWorld(), "ALG", "image_path"), "unquoted by the verified rollback");
    }

    /// Second review #9: each undo operation of a backup may be used once in its rollback (as _journal.rollback_problem).
    public static void TestAnUndoOperationIsUsedOnce()
    {
        FakeOs os = SmallHost();
        string id = (string)Apply(os, L(QuoteAlg()))["backup_id"];
        Dictionary<string, object> world = os.ToWorld();
        List<object> twice = RollbackOps(Record(os, id));
        twice.Add(twice[0]);
        Dictionary<string, object> result = BackupEngine.Apply(os, twice, Store, null, 20, id, false);
        StatusesAre(result, "not_run,refused");
        Contains((string)((Dictionary<string, object>)((List<object>)result["results"])[1])["reason"], "not one of the undo operations of backup " + id, "reason");
        Equal(world, os.ToWorld(), "nothing written");
    }
}
