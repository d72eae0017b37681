// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// A fake Windows for the apply engine (plugins/module_utils/BackupReady.cs), strict where the engine's correctness
// depends on Windows' behaviour (docs/write-path.md section 1, "What Windows does"):
// - registry keys and values (a service key is never created unless asked; a deleted value reads as missing);
// - services with a type, a start mode (the Start value), a state, a descriptor (none = the SCM default); a disabled
//   service cannot be started;
// - files and folders with owner, group, DACL and SACL; explicit ACEs are kept in the order given (no sorting); a DACL
//   written unprotected gets its inherited ACEs recomputed from the parent's inheritable ACEs, after the explicit
//   ones; ACEs marked ID in what is written are dropped; writing a folder's DACL propagates to every child whose DACL
//   is not protected (files get OI ACEs as ID, subfolders CI ACEs, IO cleared, NP stops further inheritance, CREATOR
//   OWNER becomes the child's owner); group and SACL are never touched by a DACL write. Objects whose parent is not
//   modelled (the filemaps folder: winsxs is not in the fake) keep the inherited ACEs they were given.
// - links, as Windows has them: a junction or symbolic link (a reparse point) is followed when it is a component in
//   the middle of a path (C:\ProgramData\backupready\backups goes through a junction named backupready), never when it
//   is the object itself (the engine opens everything with FILE_FLAG_OPEN_REPARSE_POINT: it reads and writes the
//   link's own security, lists the link's own empty folder, deletes the link); a hard link is one more name of the
//   same file: its owner, DACL and content are the file's, whichever name is used.
// - faults: at operation k, throw before or after its write, throw after it with the next read of the host failing
//   too (after_write_unreadable: whether the write happened cannot be told), store a different value than asked (a
//   read-back that differs), or die (every later call throws CrashException and changes nothing) after the pending
//   record or after a write; the named mutex held by another apply (LockBusy) or denying this account (LockDenied).
// Built from a state document (schema 1, as examples/fleet/snapshots/*.json) and rendered back to one.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using ansible_collections.backupready.windows.plugins.module_utils.BackupReady;

public sealed class CrashException : Exception
{
    public CrashException(string message) : base(message)
    {
    }
}

public sealed class FakeFault
{
    public int Index;
    public string When;
}

public sealed class FakeNode
{
    public string Path;
    public bool IsDirectory;
    public string Owner;
    public string Group;
    public List<string> DaclFlags;     // null: no DACL at all
    public List<SddlAce> Aces = new List<SddlAce>();
    public string Sacl;                // the text after S:, or null
    public string Content;
    public bool Unreadable;
    public List<SddlAce> OutsideInherited = new List<SddlAce>();  // what the parent gives when it is not modelled
    public int Order;
    public string LinkTarget;          // a junction or symbolic link: the path it points to
    public FakeNode HardLinkOf;        // another name of this file: its security and content are that file's

    public bool Protected
    {
        get { return DaclFlags != null && DaclFlags.Contains("P"); }
    }

    public string Format(bool withSacl)
    {
        string text = "";
        if (Owner != null)
            text += "O:" + Owner;
        if (Group != null)
            text += "G:" + Group;
        if (DaclFlags != null)
        {
            text += "D:" + String.Join("", DaclFlags.ToArray());
            foreach (SddlAce ace in Aces)
                text += ace.Format();
        }
        if (withSacl && Sacl != null)
            text += "S:" + Sacl;
        return text;
    }
}

public sealed class FakeService
{
    public string Name;
    public string State;
    public string Sddl;                // null: the SCM default
    public bool Unreadable;
}

public sealed class FakeOs : IHostOs
{
    // %ProgramData% as a fresh install has it: SYSTEM and Administrators full control, CREATOR OWNER full control on
    // what is created below, Users read & execute and (on folders) "create files / folders, write attributes".
    public const string ProgramDataSddl = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;0x116;;;BU)";
    public const string ProgramData = "C:\\ProgramData";

    public string Root = "C:\\Windows";
    public string Name = "host";
    public DateTime Clock = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    public List<FakeFault> Faults = new List<FakeFault>();
    public bool Dead;
    public bool LockHeld;
    public bool LockBusy;
    public bool LockDenied;            // another account created the named mutex and denies this one
    public int FailingReads;           // the next reads of the host fail (a write whose outcome cannot be told)
    public int Sleeps;
    public int Opens;
    public Action<string, int> OnStep;
    public string FailWriteOf;         // WriteTextAtomic of a file of this name fails (a make that stops half-way)
    public List<string> Calls = new List<string>();

    private int ids;
    private int order;
    private int currentIndex = -1;
    private readonly Dictionary<string, Dictionary<string, KeyValuePair<string, Dictionary<string, object>>>> keys =
        new Dictionary<string, Dictionary<string, KeyValuePair<string, Dictionary<string, object>>>>(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, FakeService> services = new Dictionary<string, FakeService>(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, FakeNode> nodes = new Dictionary<string, FakeNode>(StringComparer.OrdinalIgnoreCase);
    private Dictionary<string, object> world;

    // ---- faults and crashes -------------------------------------------------------------------------------------------

    private void Alive()
    {
        if (Dead)
            throw new CrashException("the process is gone");
    }

    private void Die(string why)
    {
        Dead = true;
        throw new CrashException(why);
    }

    private FakeFault TakeFault(int index, string when)
    {
        foreach (FakeFault fault in Faults)
        {
            if (fault.Index == index && fault.When == when)
            {
                Faults.Remove(fault);
                return fault;
            }
        }
        return null;
    }

    // Before a mutating call: an injected failure before it; afterwards: after it. Only during operation writes.
    private bool Before()
    {
        Alive();
        if (currentIndex < 0)
            return false;
        if (TakeFault(currentIndex, "before_write") != null)
            throw new IOException(String.Format(CultureInfo.InvariantCulture, "injected failure before the write of operation {0}", currentIndex));
        return TakeFault(currentIndex, "readback_differs") != null;
    }

    private void After()
    {
        if (currentIndex >= 0 && TakeFault(currentIndex, "after_write") != null)
            throw new IOException(String.Format(CultureInfo.InvariantCulture, "injected failure after the write of operation {0}", currentIndex));
        if (currentIndex >= 0 && TakeFault(currentIndex, "after_write_unreadable") != null)
        {
            FailingReads = 1;  // the write happened, its call fails, and the host cannot be read right after it
            throw new IOException(String.Format(CultureInfo.InvariantCulture, "injected failure after the write of operation {0}", currentIndex));
        }
    }

    // A read of the host: fails while FailingReads says so.
    private void Reading()
    {
        Alive();
        if (FailingReads > 0)
        {
            FailingReads--;
            throw new IOException("injected read failure");
        }
    }

    public void Step(string stage, int index)
    {
        Alive();
        Calls.Add(stage + " " + index.ToString(CultureInfo.InvariantCulture));
        if (OnStep != null)
            OnStep(stage, index);
        if (stage == "pending_written")
        {
            foreach (FakeFault fault in Faults)
                if (fault.When == "crash_after_pending")
                    Die("crash after the pending record");
        }
        else if (stage == "write")
        {
            currentIndex = index;
        }
        else if (stage == "written")
        {
            if (TakeFault(index, "crash_after_write") != null)
                Die(String.Format(CultureInfo.InvariantCulture, "crash after the write of operation {0}", index));
            currentIndex = -1;
        }
        else if (stage == "committed")
        {
            currentIndex = -1;
        }
    }

    /// <summary>A new process after a crash: alive again, nothing held, no write in progress.</summary>
    public void Restart()
    {
        Dead = false;
        LockHeld = false;
        currentIndex = -1;
    }

    // ---- the basics ---------------------------------------------------------------------------------------------------

    public string SystemRoot()
    {
        Alive();
        return Root;
    }

    public string HostName()
    {
        Alive();
        return Name;
    }

    public DateTime UtcNow()
    {
        Alive();
        return Clock;
    }

    public string NewIdSuffix()
    {
        Alive();
        ids++;
        return ids.ToString("x8", CultureInfo.InvariantCulture);
    }

    private sealed class Held : IDisposable
    {
        private FakeOs os;

        public Held(FakeOs os)
        {
            this.os = os;
        }

        public void Dispose()
        {
            if (os != null && !os.Dead)
                os.LockHeld = false;
            os = null;
        }
    }

    public IDisposable Lock(int timeoutMilliseconds)
    {
        Alive();
        if (LockDenied)
            throw new UnauthorizedAccessException("Access to the path 'Global\\backupready.windows.apply' is denied.");
        if (LockHeld)
            throw new InvalidOperationException("the lock is taken twice");
        if (LockBusy)
            throw new TimeoutException("held by another apply");
        LockHeld = true;
        return new Held(this);
    }

    public void Sleep(int milliseconds)
    {
        Alive();
        Sleeps++;
    }

    // ---- registry -----------------------------------------------------------------------------------------------------

    public void SetValue(string subKey, string name, Dictionary<string, object> value)
    {
        Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> key;
        if (!keys.TryGetValue(subKey, out key))
        {
            key = new Dictionary<string, KeyValuePair<string, Dictionary<string, object>>>(StringComparer.OrdinalIgnoreCase);
            keys[subKey] = key;
        }
        if (value == null || (string)value["kind"] == "missing")
        {
            key.Remove(name);
            return;
        }
        KeyValuePair<string, Dictionary<string, object>> old;
        string stored = key.TryGetValue(name, out old) ? old.Key : name;
        key[name] = new KeyValuePair<string, Dictionary<string, object>>(stored, (Dictionary<string, object>)BackupJson.Normalize(value));
    }

    public void CreateKey(string subKey)
    {
        if (!keys.ContainsKey(subKey))
            keys[subKey] = new Dictionary<string, KeyValuePair<string, Dictionary<string, object>>>(StringComparer.OrdinalIgnoreCase);
    }

    public void DeleteKey(string subKey)
    {
        keys.Remove(subKey);
    }

    public bool RegistryKeyExists(string subKey)
    {
        Alive();
        return keys.ContainsKey(subKey);
    }

    public Dictionary<string, object> RegistryRead(string subKey, string name)
    {
        Reading();
        Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> key;
        if (!keys.TryGetValue(subKey, out key))
            return null;
        KeyValuePair<string, Dictionary<string, object>> value;
        if (!key.TryGetValue(name, out value))
            return RegistryValue.Missing();
        return (Dictionary<string, object>)BackupJson.Normalize(value.Value);
    }

    public Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> Values(string subKey)
    {
        Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> key;
        return keys.TryGetValue(subKey, out key) ? key : null;
    }

    private static Dictionary<string, object> Altered(IDictionary value)
    {
        Dictionary<string, object> altered = (Dictionary<string, object>)BackupJson.Normalize(value);
        string kind = (string)altered["kind"];
        if (kind == "REG_SZ" || kind == "REG_EXPAND_SZ")
            altered["data"] = (string)altered["data"] + "\0left by the host";  // as the Python twin's readback_differs
        else if (kind == "REG_MULTI_SZ")
            ((List<object>)altered["data"]).Add("C:\\as Windows stored it");
        else if (kind == "REG_DWORD" || kind == "REG_QWORD")
            altered["data"] = Convert.ToInt64(altered["data"], CultureInfo.InvariantCulture) ^ 1;
        else if (kind == "REG_BINARY" || kind == "REG_NONE")
            altered["data"] = (string)altered["data"] + "00";
        else
            return null;  // a deletion that did not happen
        return altered;
    }

    /// <summary>Keys that deny Administrators writing (as some protected services' keys do).</summary>
    public HashSet<string> ReadOnlyKeys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    public string RegistryWriteProblem(string subKey)
    {
        Alive();
        return ReadOnlyKeys.Contains(subKey) ? "Requested registry access is not allowed." : null;
    }

    public void RegistryWrite(string subKey, string name, IDictionary value, bool createKey)
    {
        bool differ = Before();
        if (ReadOnlyKeys.Contains(subKey))
            throw new UnauthorizedAccessException("Requested registry access is not allowed.");
        if (!keys.ContainsKey(subKey))
        {
            if (!createKey)
                throw new InvalidOperationException(String.Format("HKLM\\{0} does not exist", subKey));
            CreateKey(subKey);
        }
        if (differ)
        {
            Dictionary<string, object> altered = Altered(value);
            if (altered != null)
                SetValue(subKey, name, altered);
        }
        else
        {
            SetValue(subKey, name, (Dictionary<string, object>)BackupJson.Normalize(value));
        }
        After();
    }

    // ---- services -----------------------------------------------------------------------------------------------------

    public static string ServiceKey(string name)
    {
        return "SYSTEM\\CurrentControlSet\\Services\\" + name;
    }

    public FakeService Service(string name)
    {
        FakeService service;
        return services.TryGetValue(name, out service) ? service : null;
    }

    public FakeService AddService(string name, long type, string startMode, string state)
    {
        FakeService service = new FakeService();
        service.Name = name;
        service.State = state;
        services[name] = service;
        CreateKey(ServiceKey(name));
        SetValue(ServiceKey(name), "Type", RegistryValue.Make("REG_DWORD", type));
        int start = Array.IndexOf(OpShape.StartModes, startMode);
        if (start >= 0 && start <= 4)
            SetValue(ServiceKey(name), "Start", RegistryValue.Make("REG_DWORD", (long)start));
        return service;
    }

    public string StartModeOf(string name)
    {
        Dictionary<string, object> start = RegistryRead(ServiceKey(name), "Start");
        if (start == null || (string)start["kind"] != "REG_DWORD")
            return "unknown";
        long value = Convert.ToInt64(start["data"], CultureInfo.InvariantCulture);
        return value >= 0 && value <= 4 ? OpShape.StartModes[value] : "unknown";
    }

    public string ServiceState(string service)
    {
        Reading();
        FakeService found = Service(service);
        return found == null ? null : found.State;
    }

    public string ServiceDescriptor(string service)
    {
        Alive();
        FakeService found = Service(service);
        if (found == null)
            throw new InvalidOperationException("no service " + service);
        if (found.Unreadable)
            throw new UnauthorizedAccessException("the Security value of " + service + " cannot be read");
        return found.Sddl == null ? "default" : found.Sddl;
    }

    public void SetServiceStartMode(string service, string mode)
    {
        bool differ = Before();
        if (Service(service) == null)
            throw new InvalidOperationException("no service " + service);
        if (differ)
            mode = mode != "manual" ? "manual" : "auto";  // as the Python twin's readback_differs
        SetValue(ServiceKey(service), "Start", RegistryValue.Make("REG_DWORD", (long)Array.IndexOf(OpShape.StartModes, mode)));
        After();
    }

    private void Run(string service, string verb)
    {
        bool differ = Before();
        FakeService found = Service(service);
        if (found == null)
            throw new InvalidOperationException("no service " + service);
        if (StartModeOf(service) == "disabled")
            throw new InvalidOperationException(String.Format("service {0} cannot be {1}: it is disabled (ERROR_SERVICE_DISABLED)", service, verb));
        found.State = differ ? "stopped" : "running";
        After();
    }

    public void StartService(string service)
    {
        Run(service, "started");
    }

    public void RestartService(string service)
    {
        Run(service, "restarted");
    }

    public void SetServiceDacl(string service, string daclSddl)
    {
        bool differ = Before();
        FakeService found = Service(service);
        if (found == null)
            throw new InvalidOperationException("no service " + service);
        SddlDescriptor dacl = Sddl.Parse(daclSddl);
        if (dacl.Owner != null || dacl.Group != null || dacl.Sacl != null || dacl.Dacl == null)
            throw new ArgumentException("SetServiceDacl is given a DACL only, not " + daclSddl);
        SddlDescriptor descriptor = Sddl.Parse(found.Sddl == null ? "" : found.Sddl);
        descriptor.Dacl = dacl.Dacl;
        if (!descriptor.Order.Contains("D"))
            descriptor.Order.Add("D");
        if (differ)
            descriptor.Dacl.Aces.Add(Sddl.Parse("D:(A;;LC;;;WD)").Dacl.Aces[0]);
        found.Sddl = descriptor.Format();
        After();
    }

    // ---- files --------------------------------------------------------------------------------------------------------

    public static string ParentOf(string path)
    {
        int cut = path.LastIndexOf('\\');
        return cut < 0 ? null : path.Substring(0, cut);
    }

    /// <summary>
    /// The path with every link in the middle of it followed (as Windows does for each component but the last one);
    /// the last component is never followed.
    /// </summary>
    public string Resolve(string path)
    {
        string[] parts = path.TrimEnd('\\').Split('\\');
        string current = parts[0];
        for (int i = 1; i < parts.Length; i++)
        {
            current = current + "\\" + parts[i];
            if (i == parts.Length - 1)
                break;
            for (int hops = 0; hops < 32; hops++)
            {
                FakeNode link;
                if (!nodes.TryGetValue(current, out link) || link.LinkTarget == null)
                    break;
                current = Resolve(link.LinkTarget);
            }
        }
        return current;
    }

    public FakeNode Node(string path)
    {
        FakeNode node;
        return nodes.TryGetValue(Resolve(path), out node) ? node : null;
    }

    /// <summary>The file a name stands for (a hard link is another name of the same file).</summary>
    public static FakeNode Data(FakeNode node)
    {
        return node.HardLinkOf != null ? node.HardLinkOf : node;
    }

    /// <summary>How many names the file has (GetFileInformationByHandle's nNumberOfLinks).</summary>
    public int LinkCount(FakeNode node)
    {
        FakeNode data = Data(node);
        int count = 0;
        foreach (FakeNode other in nodes.Values)
            if (Data(other) == data)
                count++;
        return count;
    }

    /// <summary>A junction (folder) or symbolic link at path, made by someone who may create it there (a user).</summary>
    public FakeNode AddLink(string path, string target, bool isDirectory, string sddl)
    {
        FakeNode node = AddNode(path, isDirectory, sddl);
        node.LinkTarget = target;
        return node;
    }

    /// <summary>Another name (a hard link) for the existing file at existing.</summary>
    public FakeNode AddHardLink(string path, string existing)
    {
        FakeNode file = Existing(existing);
        FakeNode node = AddNode(path, false, "O:SY");
        node.HardLinkOf = Data(file);
        return node;
    }

    private FakeNode Existing(string path)
    {
        FakeNode node = Node(path);
        if (node == null)
            throw new FileNotFoundException("no such file or folder: " + path);
        return node;
    }

    /// <summary>Add an object as found on a host (its inherited ACEs as given); the parent need not be modelled.</summary>
    public FakeNode AddNode(string path, bool isDirectory, string sddl)
    {
        FakeNode node = new FakeNode();
        node.Path = Resolve(path);
        node.IsDirectory = isDirectory;
        node.Order = order++;
        SetDescriptor(node, sddl);
        nodes[node.Path] = node;
        return node;
    }

    public static void SetDescriptor(FakeNode node, string sddl)
    {
        SddlDescriptor descriptor = Sddl.Parse(sddl);
        node.Owner = descriptor.Owner;
        node.Group = descriptor.Group;
        node.DaclFlags = descriptor.Dacl == null ? null : new List<string>(descriptor.Dacl.Flags);
        node.Aces = descriptor.Dacl == null ? new List<SddlAce>() : descriptor.Dacl.Aces;
        node.Sacl = descriptor.Sacl == null ? null : descriptor.Sacl.Format();
        node.OutsideInherited = node.Aces.FindAll(delegate(SddlAce ace) { return ace.Inherited; });
    }

    public List<FakeNode> Children(string folder, bool? directories)
    {
        List<FakeNode> children = new List<FakeNode>();
        string prefix = Resolve(folder) + "\\";
        foreach (FakeNode node in nodes.Values)
            if (node.Path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && node.Path.IndexOf('\\', prefix.Length) < 0 &&
                (directories == null || node.IsDirectory == directories.Value))
                children.Add(node);
        children.Sort(delegate(FakeNode a, FakeNode b) { return a.Order.CompareTo(b.Order); });
        return children;
    }

    private static readonly string[] FlagOrder = new string[] { "OI", "CI", "NP", "IO", "ID", "SA", "FA", "TP", "CR" };

    private static SddlAce InheritedCopy(SddlAce ace, List<string> flags, string trustee)
    {
        SddlAce copy = ace.Copy();
        List<string> ordered = new List<string>();
        foreach (string flag in FlagOrder)
            if (flags.Contains(flag))
                ordered.Add(flag);
        copy.Flags = ordered;
        if (trustee != null)
            copy.Trustee = trustee;
        return copy;
    }

    /// <summary>The ACEs a child inherits from its parent's DACL ("Automatic Propagation of Inheritable ACEs").</summary>
    public static List<SddlAce> Inherit(FakeNode parent, FakeNode child)
    {
        List<SddlAce> inherited = new List<SddlAce>();
        if (parent.DaclFlags == null)
            return inherited;
        foreach (SddlAce ace in parent.Aces)
        {
            bool oi = ace.Flags.Contains("OI");
            bool ci = ace.Flags.Contains("CI");
            bool np = ace.Flags.Contains("NP");
            bool creatorOwner = ace.Trustee == "CO" || ace.Trustee == "S-1-3-0";
            List<string> audit = new List<string>();
            foreach (string flag in new string[] { "SA", "FA" })
                if (ace.Flags.Contains(flag))
                    audit.Add(flag);
            if (!child.IsDirectory)
            {
                if (!oi)
                    continue;
                List<string> flags = new List<string>(audit);
                flags.Add("ID");
                inherited.Add(InheritedCopy(ace, flags, creatorOwner ? child.Owner : null));
                continue;
            }
            if (ci)
            {
                List<string> effective = new List<string>(audit);
                effective.Add("ID");
                if (np)
                {
                    inherited.Add(InheritedCopy(ace, effective, creatorOwner ? child.Owner : null));
                    continue;
                }
                if (creatorOwner)
                {
                    inherited.Add(InheritedCopy(ace, effective, child.Owner));
                    List<string> template = new List<string>(audit);
                    template.AddRange(new string[] { "CI", "IO", "ID" });
                    if (oi)
                        template.Add("OI");
                    inherited.Add(InheritedCopy(ace, template, null));
                    continue;
                }
                if (oi)
                    effective.Add("OI");
                effective.Add("CI");
                inherited.Add(InheritedCopy(ace, effective, null));
            }
            else if (oi && !np)
            {
                List<string> flags = new List<string>(audit);
                flags.AddRange(new string[] { "OI", "IO", "ID" });
                inherited.Add(InheritedCopy(ace, flags, null));
            }
        }
        return inherited;
    }

    // The inherited ACEs of the file a name stands for, from the folder that name is in.
    private List<SddlAce> InheritedFor(FakeNode node)
    {
        string parentPath = ParentOf(node.Path);
        FakeNode parent = parentPath == null ? null : Node(parentPath);
        if (parent == null)
            return new List<SddlAce>(Data(node).OutsideInherited);  // the parent is not modelled: it gives what it gave
        return Inherit(parent, Data(node));
    }

    private void Recompute(FakeNode node)
    {
        FakeNode data = Data(node);
        List<SddlAce> aces = data.Aces.FindAll(delegate(SddlAce ace) { return !ace.Inherited; });
        if (!data.Protected)
            aces.AddRange(InheritedFor(node));
        data.Aces = aces;
        if (data.DaclFlags != null && !data.DaclFlags.Contains("AI"))
            data.DaclFlags.Add("AI");
        if (node.IsDirectory)
            foreach (FakeNode child in Children(node.Path, null))  // a link's own folder is empty: nothing below it
                if (!Data(child).Protected && Data(child).DaclFlags != null)
                    Recompute(child);
    }

    public bool DirectoryExists(string path)
    {
        Alive();
        FakeNode node = Node(path);
        return node != null && node.IsDirectory;
    }

    public string[] ListFiles(string folder)
    {
        Alive();
        if (!DirectoryExists(folder))
            throw new DirectoryNotFoundException(folder);
        return Children(folder, false).ConvertAll(delegate(FakeNode node) { return node.Path.Substring(node.Path.LastIndexOf('\\') + 1); }).ToArray();
    }

    public string[] ListDirectories(string folder)
    {
        Alive();
        if (!DirectoryExists(folder))
            throw new DirectoryNotFoundException(folder);
        return Children(folder, true).ConvertAll(delegate(FakeNode node) { return node.Path.Substring(node.Path.LastIndexOf('\\') + 1); }).ToArray();
    }

    public string ReadSecurity(string path, bool withSacl)
    {
        Alive();
        return ReadNode(Existing(path), path, withSacl);
    }

    private string ReadNode(FakeNode node, string path, bool withSacl)
    {
        Reading();
        FakeNode data = Data(node);
        if (data.Unreadable)
            throw new UnauthorizedAccessException("access denied: " + path);
        return data.Format(withSacl);
    }

    public void WriteSecurity(string path, string ownerAndDacl)
    {
        Alive();
        WriteNode(Existing(path), ownerAndDacl);
    }

    private void WriteNode(FakeNode node, string ownerAndDacl)
    {
        bool differ = Before();
        FakeNode data = Data(node);
        SddlDescriptor descriptor = Sddl.Parse(ownerAndDacl);
        if (descriptor.Group != null || descriptor.Sacl != null || descriptor.Dacl == null || descriptor.Dacl.Flags.Contains("NO_ACCESS_CONTROL"))
            throw new ArgumentException("only an owner and a DACL (not NULL) are written, not " + ownerAndDacl);
        if (descriptor.Owner != null)
            data.Owner = descriptor.Owner;
        data.DaclFlags = new List<string>();
        if (descriptor.Dacl.Flags.Contains("P"))
            data.DaclFlags.Add("P");
        data.Aces = descriptor.Dacl.Aces.FindAll(delegate(SddlAce ace) { return !ace.Inherited; });
        if (differ)
            data.Aces.Add(Sddl.Parse("D:(A;;FR;;;WD)").Dacl.Aces[0]);
        Recompute(node);
        After();
    }

    /// <summary>A handle on the object itself (never followed), bound to it whatever happens to its name later.</summary>
    private sealed class FakeObject : IHostObject
    {
        private readonly FakeOs os;
        private readonly FakeNode node;
        private readonly string path;
        private readonly bool forWrite;

        public FakeObject(FakeOs os, FakeNode node, string path, bool forWrite)
        {
            this.os = os;
            this.node = node;
            this.path = path;
            this.forWrite = forWrite;
        }

        public bool IsDirectory()
        {
            os.Alive();
            return node.IsDirectory;
        }

        public bool IsReparsePoint()
        {
            os.Alive();
            return node.LinkTarget != null;
        }

        public int LinkCount()
        {
            os.Alive();
            return os.LinkCount(node);
        }

        public string ReadSecurity()
        {
            return os.ReadNode(node, path, false);
        }

        public void WriteSecurity(string ownerAndDacl)
        {
            os.Alive();
            if (!forWrite)
                throw new UnauthorizedAccessException(path + " was not opened for writing");
            os.WriteNode(node, ownerAndDacl);
        }

        public void Dispose()
        {
        }
    }

    public IHostObject OpenObject(string path, bool forWrite)
    {
        Alive();
        Opens++;
        return new FakeObject(this, Existing(path), path, forWrite);
    }

    public string SddlProblem(string sddl)
    {
        Alive();
        SddlDescriptor descriptor;
        try
        {
            descriptor = Sddl.Parse(sddl);
        }
        catch (SddlError error)
        {
            return error.Message;
        }
        List<string> trustees = new List<string>();
        trustees.Add(descriptor.Owner);
        trustees.Add(descriptor.Group);
        foreach (SddlAcl acl in new SddlAcl[] { descriptor.Dacl, descriptor.Sacl })
            if (acl != null)
                foreach (SddlAce ace in acl.Aces)
                    trustees.Add(ace.Trustee);
        foreach (string trustee in trustees)
            if (trustee != null && !Sddl.IsSid(trustee) && !Sddl.IsKnownAlias(trustee))
                return "The security ID structure is invalid (" + trustee + ")";
        return null;
    }

    public void CreateDirectory(string path, string sddl)
    {
        Alive();
        string parent = ParentOf(path.TrimEnd('\\'));
        if (parent != null && parent.Length > 2 && Node(parent) == null)
            throw new DirectoryNotFoundException("no parent folder for " + path);
        if (Node(path) != null)
            throw new IOException(path + " already exists");
        FakeNode node = AddNode(path, true, "G:SY");
        ApplyCreate(node, sddl);
    }

    private void ApplyCreate(FakeNode node, string sddl)
    {
        SddlDescriptor descriptor = Sddl.Parse(sddl);
        node.Owner = descriptor.Owner != null ? descriptor.Owner : "BA";
        node.DaclFlags = new List<string>();
        if (descriptor.Dacl != null && descriptor.Dacl.Flags.Contains("P"))
            node.DaclFlags.Add("P");
        node.Aces = descriptor.Dacl == null ? new List<SddlAce>() : descriptor.Dacl.Aces.FindAll(delegate(SddlAce ace) { return !ace.Inherited; });
        Recompute(node);
    }

    public string ReadText(string path)
    {
        Alive();
        FakeNode node = Data(Existing(path));
        if (node.IsDirectory || node.Content == null)
            throw new IOException(path + " is not a file");
        return node.Content;
    }

    public void WriteTextAtomic(string folder, string name, string text, string sddl)
    {
        Alive();
        if (FailWriteOf != null && name == FailWriteOf)
            throw new IOException("injected failure writing " + name);
        if (!DirectoryExists(folder))
            throw new DirectoryNotFoundException(folder);
        string temp = BackupEngine.Join(folder, BackupEngine.TempPrefix + NewIdSuffix());
        FakeNode node = AddNode(temp, false, "G:SY");
        ApplyCreate(node, sddl);
        node.Content = text;
        string target = Resolve(BackupEngine.Join(folder, name));
        FakeNode old = Node(target);
        if (old != null)
            nodes.Remove(old.Path);
        nodes.Remove(node.Path);
        node.Path = target;
        nodes[target] = node;
    }

    /// <summary>A file as something else left it (e.g. a temporary file from a crash, a planted record).</summary>
    public FakeNode AddFile(string path, string sddl, string content)
    {
        FakeNode node = AddNode(path, false, sddl);
        node.Content = content;
        return node;
    }

    public void DeleteFile(string path)
    {
        Alive();
        FakeNode node = Existing(path);
        if (node.IsDirectory)
            throw new IOException(path + " is a folder");
        nodes.Remove(node.Path);
    }

    public void DeleteDirectory(string path)
    {
        Alive();
        FakeNode node = Existing(path);
        if (!node.IsDirectory || Children(path, null).Count > 0)
            throw new IOException(path + " is not an empty folder");
        nodes.Remove(node.Path);
    }

    // ---- state documents -------------------------------------------------------------------------------------------

    public static string SystemWriterKey = "SYSTEM\\CurrentControlSet\\Control\\SystemWriter";
    public static string VssAccessControlKey = "SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl";

    private static Dictionary<string, object> AsMap(object value)
    {
        return (Dictionary<string, object>)value;
    }

    /// <summary>A fake host holding what a state document (schema 1) says; files need their names (descriptors[].names).</summary>
    public static FakeOs FromWorld(object document)
    {
        FakeOs os = new FakeOs();
        Dictionary<string, object> doc = AsMap(BackupJson.Normalize(document));
        os.world = doc;
        Dictionary<string, object> host = AsMap(doc["host"]);
        os.Root = ((string)host["system_root"]).TrimEnd('\\');
        os.Name = (string)host["name"];
        foreach (object item in (List<object>)doc["services"])
        {
            Dictionary<string, object> service = AsMap(item);
            string name = (string)service["name"];
            FakeService fake = os.AddService(name, Convert.ToInt64(service["type"], CultureInfo.InvariantCulture),
                (string)service["start_mode"], service["state"] as string);
            os.SetValue(ServiceKey(name), "ImagePath", AsMap(service["image_path"]));
            Dictionary<string, object> security = AsMap(service["security"]);
            if ((string)security["source"] == "registry")
                fake.Sddl = (string)security["sddl"];
            fake.Unreadable = (string)security["source"] == "unreadable";
        }
        Dictionary<string, object> writer = AsMap(doc["system_writer"]);
        if ((bool)writer["key_exists"])
        {
            os.CreateKey(SystemWriterKey);
            os.SetValue(SystemWriterKey, "ExcludedBinaryPaths", AsMap(writer["excluded_binary_paths"]));
            os.SetValue(SystemWriterKey, "ReportWin32ServicesNonSystemState", AsMap(writer["report_win32_services_non_system_state"]));
            object others;
            if (writer.TryGetValue("other_values", out others) && others != null)
                foreach (KeyValuePair<string, object> value in AsMap(others))
                    os.SetValue(SystemWriterKey, value.Key, AsMap(value.Value));
        }
        Dictionary<string, object> vss = AsMap(doc["vss_access_control"]);
        if ((bool)vss["key_exists"])
        {
            os.CreateKey(VssAccessControlKey);
            foreach (KeyValuePair<string, object> value in AsMap(vss["values"]))
                os.SetValue(VssAccessControlKey, value.Key, AsMap(value.Value));
        }
        foreach (string section in new string[] { "filemaps", "pending_renames" })
        {
            Dictionary<string, object> folder = AsMap(doc[section]);
            if (!(folder["exists"] is bool) || !(bool)folder["exists"] || folder["sddl"] == null)
                continue;
            string path = (string)folder["path"];
            os.AddNode(path, true, (string)folder["sddl"]);
            object files;
            if (!folder.TryGetValue("files", out files) || files == null)
                continue;
            List<object> descriptors = (List<object>)AsMap(files)["descriptors"];
            for (int d = 0; d < descriptors.Count; d++)
            {
                Dictionary<string, object> group = AsMap(descriptors[d]);
                List<string> names = new List<string>();
                object given;
                if (group.TryGetValue("names", out given))
                    foreach (object name in (List<object>)given)
                        names.Add((string)name);
                long count = Convert.ToInt64(group["count"], CultureInfo.InvariantCulture);
                for (int k = names.Count; k < count; k++)
                    names.Add(String.Format(CultureInfo.InvariantCulture, "file-{0}-{1}.cdf-ms", d, k));
                foreach (string name in names)
                {
                    FakeNode node = group["sddl"] == null ? os.AddNode(BackupEngine.Join(path, name), false, "")
                        : os.AddNode(BackupEngine.Join(path, name), false, (string)group["sddl"]);
                    node.Unreadable = group["sddl"] == null;
                }
            }
        }
        os.AddNode(ProgramData, true, ProgramDataSddl);
        return os;
    }

    private static Dictionary<string, object> ValueOr(Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> key, string name)
    {
        KeyValuePair<string, Dictionary<string, object>> value;
        if (key != null && key.TryGetValue(name, out value))
            return value.Value;
        return RegistryValue.Missing();
    }

    /// <summary>The state document of the host now: the input document with what the engine can change re-read.</summary>
    public Dictionary<string, object> ToWorld()
    {
        Dictionary<string, object> doc = AsMap(BackupJson.Parse(BackupJson.Dump(world)));
        foreach (object item in (List<object>)doc["services"])
        {
            Dictionary<string, object> service = AsMap(item);
            string name = (string)service["name"];
            FakeService fake = Service(name);
            service["start_mode"] = StartModeOf(name);
            service["state"] = fake.State;
            service["image_path"] = ValueOr(Values(ServiceKey(name)), "ImagePath");
            if (!fake.Unreadable)
                service["security"] = fake.Sddl == null
                    ? Map("sddl", null, "source", "default") : Map("sddl", fake.Sddl, "source", "registry");
        }
        Dictionary<string, object> writer = AsMap(doc["system_writer"]);
        Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> writerKey = Values(SystemWriterKey);
        writer["key_exists"] = writerKey != null;
        writer["excluded_binary_paths"] = ValueOr(writerKey, "ExcludedBinaryPaths");
        writer["report_win32_services_non_system_state"] = ValueOr(writerKey, "ReportWin32ServicesNonSystemState");
        Dictionary<string, object> others = new Dictionary<string, object>();
        if (writerKey != null)
            foreach (KeyValuePair<string, Dictionary<string, object>> value in writerKey.Values)
                if (!String.Equals(value.Key, "ExcludedBinaryPaths", StringComparison.OrdinalIgnoreCase) &&
                    !String.Equals(value.Key, "ReportWin32ServicesNonSystemState", StringComparison.OrdinalIgnoreCase))
                    others[value.Key] = value.Value;
        if (writer.ContainsKey("other_values") || others.Count > 0)
            writer["other_values"] = others;
        Dictionary<string, object> vss = AsMap(doc["vss_access_control"]);
        Dictionary<string, KeyValuePair<string, Dictionary<string, object>>> vssKey = Values(VssAccessControlKey);
        vss["key_exists"] = vssKey != null;
        Dictionary<string, object> vssValues = new Dictionary<string, object>();
        if (vssKey != null)
            foreach (KeyValuePair<string, Dictionary<string, object>> value in vssKey.Values)
                vssValues[value.Key] = value.Value;
        vss["values"] = vssValues;
        foreach (string section in new string[] { "filemaps", "pending_renames" })
        {
            Dictionary<string, object> folder = AsMap(doc[section]);
            FakeNode node = Node((string)folder["path"]);
            if (node == null)
                continue;
            folder["sddl"] = node.Format(true);
            if (!folder.ContainsKey("files") || folder["files"] == null)
                continue;
            List<object> descriptors = new List<object>();
            Dictionary<string, Dictionary<string, object>> groups = new Dictionary<string, Dictionary<string, object>>(StringComparer.Ordinal);
            List<FakeNode> files = Children(node.Path, false);
            foreach (FakeNode file in files)
            {
                string sddl = Data(file).Unreadable ? "\0unreadable" : Data(file).Format(true);
                Dictionary<string, object> group;
                if (!groups.TryGetValue(sddl, out group))
                {
                    group = Map("sddl", Data(file).Unreadable ? null : sddl, "count", 0L, "samples", new List<object>(), "names", new List<object>());
                    groups[sddl] = group;
                    descriptors.Add(group);
                }
                string name = file.Path.Substring(file.Path.LastIndexOf('\\') + 1);
                group["count"] = (long)group["count"] + 1;
                if (((List<object>)group["samples"]).Count < 5)
                    ((List<object>)group["samples"]).Add(name);
                ((List<object>)group["names"]).Add(name);
            }
            folder["files"] = Map("count", (long)files.Count, "descriptors", descriptors);
        }
        return doc;
    }

    public static Dictionary<string, object> Map(params object[] pairs)
    {
        Dictionary<string, object> map = new Dictionary<string, object>();
        for (int i = 0; i < pairs.Length; i += 2)
            map[(string)pairs[i]] = pairs[i + 1];
        return map;
    }

    // ---- the backup store -------------------------------------------------------------------------------------------

    /// <summary>
    /// Put records in the store as an earlier apply (or someone else) left them. Each may carry "owner" and "sddl"
    /// (the descriptor of its folder and backup.json; default: what the engine writes) and "text" (backup.json as is).
    /// </summary>
    public void AddStore(string store, List<object> records, string storeSddl)
    {
        if (Node(ParentOf(store)) == null)
            AddNode(ParentOf(store), true, storeSddl == null ? BackupEngine.StoreSddl : storeSddl);
        AddNode(store, true, storeSddl == null ? BackupEngine.StoreSddl : storeSddl);
        foreach (object item in records)
        {
            Dictionary<string, object> record = new Dictionary<string, object>(AsMap(BackupJson.Normalize(item)));
            string sddl = record.ContainsKey("sddl") ? (string)record["sddl"] : null;
            string owner = record.ContainsKey("owner") ? (string)record["owner"] : null;
            string text = record.ContainsKey("text") ? (string)record["text"] : null;
            record.Remove("sddl");
            record.Remove("owner");
            record.Remove("text");
            string id = (string)record["id"];
            string folder = BackupEngine.Join(store, id);
            FakeNode folderNode = AddNode(folder, true, sddl == null ? BackupEngine.StoreSddl : sddl);
            FakeNode file = AddFile(BackupEngine.Join(folder, BackupEngine.RecordFile), sddl == null ? BackupEngine.RecordFileSddl : sddl,
                text != null ? text : BackupJson.Dump(record) + "\n");
            if (owner != null)
            {
                folderNode.Owner = owner;
                file.Owner = owner;
            }
            if (sddl == null || !Sddl.Parse(sddl).Dacl.Flags.Contains("P"))
            {
                Recompute(folderNode);
                Recompute(file);
            }
        }
    }

    /// <summary>The records in the store, sorted by id (an unreadable one as {id, text}).</summary>
    public List<object> StoreRecords(string store)
    {
        List<object> records = new List<object>();
        if (Node(store) == null)
            return records;
        List<FakeNode> folders = Children(store, true);
        folders.Sort(delegate(FakeNode a, FakeNode b) { return String.CompareOrdinal(a.Path, b.Path); });
        foreach (FakeNode folder in folders)
        {
            string id = folder.Path.Substring(folder.Path.LastIndexOf('\\') + 1);
            FakeNode file = Node(BackupEngine.Join(folder.Path, BackupEngine.RecordFile));
            if (file == null)
                continue;
            try
            {
                records.Add(BackupJson.Parse(file.Content));
            }
            catch (FormatException)
            {
                records.Add(Map("id", id, "text", file.Content));
            }
        }
        return records;
    }
}
