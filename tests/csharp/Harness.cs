// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Runs BackupReady.cs under mono for tests/csharp/test_engine.py: reads a JSON list of requests on stdin, prints a
// JSON list of answers (one mono process per batch). Requests ({"cmd": ...}):
//   allowlist    {host, cases}            -> [{refusal}]          (tests/vectors/allowlist.json)
//   same_command {system_root, pairs}     -> [[a~b, b~a]]         (tests/vectors/same_command.json)
//   descriptors  {pairs}                  -> [{same, same_writable}] (tests/vectors/descriptors.json)
//   shape        {ops}                    -> [message or null]    (as _operations.check_shape)
//   json         {texts}                  -> [{dump} or {error}]  (BackupJson.Parse then Dump)
//   repr         {values}                 -> [repr(value)]
//   display      {cases}                  -> [text]               (tests/vectors/display.json: PyText.Quoted, Visible, Shown)
//   floats       {values}                 -> [float repr]
//   scenario     {world, store, steps, store_path?, store_sddl?} -> {steps: [{result, world, store}]}
//   records      {records}               -> [problem or null]    (BackupEngine.RecordProblem, as _journal.record_problem)
//   trust        {cases: [{owner, dacl}]} -> [problem or null]   (BackupEngine.TrustProblem, as _journal.dacl_trust_problem)
//   values       {pairs: [[a, b]]}        -> [bool]              (RegistryValue.Same, as _operations.values_equal)
//   tests        {names?}                 -> [{name, ok, message}] (EngineTests, hand-written expectations)

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using ansible_collections.backupready.windows.plugins.module_utils.BackupReady;

public static class Harness
{
    public const string DefaultStore = "C:\\ProgramData\\backupready\\backups";

    private static Dictionary<string, object> AsMap(object value)
    {
        return (Dictionary<string, object>)value;
    }

    private static object Get(Dictionary<string, object> map, string key, object fallback)
    {
        object value;
        return map.TryGetValue(key, out value) && value != null ? value : fallback;
    }

    public static void Main()
    {
        List<object> requests = (List<object>)BackupJson.Parse(Console.In.ReadToEnd());
        List<object> answers = new List<object>();
        foreach (object item in requests)
        {
            Dictionary<string, object> request = AsMap(item);
            try
            {
                answers.Add(Answer(request));
            }
            catch (Exception error)
            {
                answers.Add(FakeOs.Map("error", error.GetType().Name + ": " + error.Message + "\n" + error.StackTrace));
            }
        }
        Console.Out.Write(BackupJson.Dump(answers));
    }

    private static object Answer(Dictionary<string, object> request)
    {
        switch ((string)request["cmd"])
        {
            case "allowlist": return AllowListCases(request);
            case "same_command": return SameCommandPairs(request);
            case "descriptors": return DescriptorPairs(request);
            case "shape": return Shapes(request);
            case "json": return JsonTexts(request);
            case "repr": return ((List<object>)request["values"]).ConvertAll(delegate(object v) { return (object)PyText.Repr(v); });
            case "display": return ((List<object>)request["cases"]).ConvertAll(delegate(object item) { return (object)Display(AsMap(item)); });
            case "floats": return ((List<object>)request["values"]).ConvertAll(delegate(object v) { return (object)PyText.FloatRepr(Convert.ToDouble(v, CultureInfo.InvariantCulture)); });
            case "scenario": return Scenario(request);
            case "records": return ((List<object>)request["records"]).ConvertAll(delegate(object record)
            {
                Dictionary<string, object> map = record as Dictionary<string, object>;
                object id = null;
                if (map != null)
                    map.TryGetValue("id", out id);
                return (object)BackupEngine.RecordProblem(record, id as string ?? "none");
            });
            case "trust": return ((List<object>)request["cases"]).ConvertAll(delegate(object item)
            {
                Dictionary<string, object> trustCase = AsMap(item);
                string owner = trustCase["owner"] as string;
                return (object)BackupEngine.TrustProblem("entry", (owner == null ? "" : "O:" + owner) + (string)trustCase["dacl"]);
            });
            case "values": return ((List<object>)request["pairs"]).ConvertAll(delegate(object item)
            {
                List<object> pair = (List<object>)item;
                return (object)RegistryValue.Same((IDictionary)pair[0], (IDictionary)pair[1]);
            });
            case "tests":
                EngineTests.Inputs = AsMap(Get(request, "inputs", new Dictionary<string, object>()));
                return Tests(request);
        }
        throw new ArgumentException("unknown cmd " + request["cmd"]);
    }

    private static List<object> AllowListCases(Dictionary<string, object> request)
    {
        Dictionary<string, object> host = AsMap(request["host"]);
        Dictionary<string, long> types = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, object> service in AsMap(host["services"]))
            types[service.Key] = Convert.ToInt64(service.Value, CultureInfo.InvariantCulture);
        List<object> answers = new List<object>();
        foreach (object item in (List<object>)request["cases"])
        {
            Dictionary<string, object> testCase = AsMap(item);
            Dictionary<string, object> op = AsMap(testCase["op"]);
            string shape = OpShape.Problem(op, 0);
            if (shape != null)
            {
                answers.Add(FakeOs.Map("refusal", null, "shape", shape));
                continue;
            }
            long? type = null;
            if ((string)op["op"] == "registry_value")
            {
                long found;
                if (types.TryGetValue(AllowList.ImagePathService(op), out found))
                    type = found;
            }
            answers.Add(FakeOs.Map("refusal", AllowList.Refusal(op, (string)host["system_root"], type, (bool)Get(testCase, "rollback", false))));
        }
        return answers;
    }

    private static string Display(Dictionary<string, object> displayCase)
    {
        object value = displayCase["value"];
        int limit = Convert.ToInt32(Get(displayCase, "limit", -1L), CultureInfo.InvariantCulture);
        switch ((string)displayCase["function"])
        {
            case "quoted": return PyText.Quoted((string)value, limit);
            case "visible": return PyText.Visible((string)value, (bool)Get(displayCase, "edges", false));
            case "shown": return PyText.Shown(value, limit);
        }
        throw new ArgumentException("unknown function " + displayCase["function"]);
    }

    private static List<object> SameCommandPairs(Dictionary<string, object> request)
    {
        string root = (string)request["system_root"];
        List<object> answers = new List<object>();
        foreach (object item in (List<object>)request["pairs"])
        {
            Dictionary<string, object> pair = AsMap(item);
            bool driver = (bool)pair["driver"];
            answers.Add(new List<object> {
                AllowList.SameCommand((string)pair["a"], (string)pair["b"], driver, root),
                AllowList.SameCommand((string)pair["b"], (string)pair["a"], driver, root) });
        }
        return answers;
    }

    private static List<object> DescriptorPairs(Dictionary<string, object> request)
    {
        List<object> answers = new List<object>();
        foreach (object item in (List<object>)request["pairs"])
        {
            Dictionary<string, object> pair = AsMap(item);
            answers.Add(FakeOs.Map("same", Sddl.SameDescriptor((string)pair["a"], (string)pair["b"]),
                "same_writable", Sddl.SameWritablePart((string)pair["a"], (string)pair["b"])));
        }
        return answers;
    }

    private static List<object> Shapes(Dictionary<string, object> request)
    {
        List<object> answers = new List<object>();
        List<object> ops = (List<object>)request["ops"];
        for (int i = 0; i < ops.Count; i++)
            answers.Add(OpShape.Problem(ops[i], i));
        return answers;
    }

    private static List<object> JsonTexts(Dictionary<string, object> request)
    {
        List<object> answers = new List<object>();
        foreach (object text in (List<object>)request["texts"])
        {
            try
            {
                answers.Add(FakeOs.Map("dump", BackupJson.Dump(BackupJson.Parse((string)text))));
            }
            catch (FormatException error)
            {
                answers.Add(FakeOs.Map("error", error.Message));
            }
        }
        return answers;
    }

    /// <summary>Run steps of applies on one fake host; after a crash the next step is a new process.</summary>
    public static Dictionary<string, object> Scenario(Dictionary<string, object> request)
    {
        string store = (string)Get(request, "store_path", DefaultStore);
        FakeOs os = FakeOs.FromWorld(request["world"]);
        List<object> records = (List<object>)Get(request, "store", new List<object>());
        string storeSddl = Get(request, "store_sddl", null) as string;
        if (records.Count > 0 || storeSddl != null)
            os.AddStore(store, records, storeSddl);
        List<object> steps = new List<object>();
        foreach (object item in (List<object>)request["steps"])
        {
            Dictionary<string, object> step = AsMap(item);
            os.Faults.Clear();
            foreach (object faultItem in (List<object>)Get(step, "faults", new List<object>()))
            {
                FakeFault fault = new FakeFault();
                fault.Index = Convert.ToInt32(Get(AsMap(faultItem), "index", 0L), CultureInfo.InvariantCulture);
                fault.When = (string)AsMap(faultItem)["when"];
                os.Faults.Add(fault);
            }
            Dictionary<string, object> result;
            try
            {
                result = BackupEngine.Apply(os, Get(step, "operations", new List<object>()), store, Get(step, "label", null),
                    Convert.ToInt32(Get(step, "keep_backups", 20L), CultureInfo.InvariantCulture), Get(step, "rollback_of", null) as string,
                    (bool)Get(step, "check_mode", false));
            }
            catch (CrashException error)
            {
                result = FakeOs.Map("crashed", true, "msg", error.Message);
            }
            if (os.Dead)
            {
                if (!result.ContainsKey("crashed"))
                    result = FakeOs.Map("crashed", true, "msg", "the process died during the apply");
                os.Restart();
            }
            steps.Add(FakeOs.Map("result", result, "world", os.ToWorld(), "store", os.StoreRecords(store)));
        }
        return FakeOs.Map("steps", steps);
    }

    private static List<object> Tests(Dictionary<string, object> request)
    {
        List<object> wanted = Get(request, "names", null) as List<object>;
        List<object> answers = new List<object>();
        MethodInfo[] methods = typeof(EngineTests).GetMethods(BindingFlags.Public | BindingFlags.Static);
        Array.Sort(methods, delegate(MethodInfo a, MethodInfo b) { return String.CompareOrdinal(a.Name, b.Name); });
        foreach (MethodInfo method in methods)
        {
            if (!method.Name.StartsWith("Test") || (wanted != null && !wanted.Contains(method.Name)))
                continue;
            try
            {
                method.Invoke(null, null);
                answers.Add(FakeOs.Map("name", method.Name, "ok", true, "message", null));
            }
            catch (TargetInvocationException error)
            {
                Exception inner = error.InnerException;
                answers.Add(FakeOs.Map("name", method.Name, "ok", false, "message", inner.GetType().Name + ": " + inner.Message + "\n" + inner.StackTrace));
            }
        }
        return answers;
    }
}
