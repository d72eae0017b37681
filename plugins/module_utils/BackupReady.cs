// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The hands of backupready.windows on a Windows host: exact registry values, SDDL compared by meaning, the semantic
// allow-list, and the apply engine with its journaled, protected backup store (docs/write-path.md).
// Loaded with '#AnsibleRequires -CSharpUtil ..module_utils.BackupReady' (ansible-core resolves the relative name to
// ansible_collections.backupready.windows.plugins.module_utils.BackupReady, the namespace below).
//
// Layout: RegistryValue and ProcessArgument (value encoding, command-line quoting); PyText, BackupJson, Sddl,
// AllowList, OpShape (pure: the Python reference's rules, run under mono against the same vectors); IHostOs (every
// OS call the engine makes); BackupEngine (the decisions); WindowsHostOs (IHostOs with P/Invoke). tests/csharp holds a
// FakeOs that models Windows and the harness that runs the engine under mono.
//
// Why not RegistryKey.GetValue / SetValue: whether GetValue keeps what follows an embedded NUL in REG_SZ /
// REG_EXPAND_SZ data differs between .NET versions, and GetValue returns a REG_DWORD as a signed Int32. The data is
// read as raw bytes with RegQueryValueExW and written with RegSetValueExW from bytes built by Encode, the exact
// inverse of Decode (Decode(Encode(v)) == v).
//
// C# 5 only, and the references Ansible's AddType gives by default (System, System.Core, System.Management.Automation):
// Windows PowerShell 5.1 compiles this with the .NET Framework csc (no ?., $"", nameof, => members, { get; } only).

using Microsoft.Win32;
using Microsoft.Win32.SafeHandles;
using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

//TypeAccelerator -Name BackupReady.RegistryValue -TypeName RegistryValue
//TypeAccelerator -Name BackupReady.ProcessArgument -TypeName ProcessArgument
//TypeAccelerator -Name BackupReady.BackupEngine -TypeName BackupEngine
//TypeAccelerator -Name BackupReady.WindowsHostOs -TypeName WindowsHostOs
//TypeAccelerator -Name BackupReady.SelftestSandbox -TypeName SelftestSandbox

namespace ansible_collections.backupready.windows.plugins.module_utils.BackupReady
{
    internal static class NativeMethods
    {
        // Registry functions return the error code; they do not set the thread's last error.
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, EntryPoint = "RegQueryValueExW")]
        public static extern int RegQueryValueExW(SafeRegistryHandle hKey, string lpValueName, IntPtr lpReserved,
            out uint lpType, byte[] lpData, ref uint lpcbData);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, EntryPoint = "RegSetValueExW")]
        public static extern int RegSetValueExW(SafeRegistryHandle hKey, string lpValueName, int reserved,
            uint dwType, byte[] lpData, uint cbData);
    }

    /// <summary>
    /// A registry value as the state document holds it: a dictionary {"kind": "REG_SZ"|...|"missing", "data": ...}.
    /// data is a string (REG_SZ, REG_EXPAND_SZ), a string[] (REG_MULTI_SZ), a UInt32 (REG_DWORD), a UInt64
    /// (REG_QWORD), lower-case hex (REG_BINARY, REG_NONE) or null (missing).
    /// </summary>
    public static class RegistryValue
    {
        public const uint REG_NONE = 0;
        public const uint REG_SZ = 1;
        public const uint REG_EXPAND_SZ = 2;
        public const uint REG_BINARY = 3;
        public const uint REG_DWORD = 4;
        public const uint REG_MULTI_SZ = 7;
        public const uint REG_QWORD = 11;

        private const int ERROR_SUCCESS = 0;
        private const int ERROR_FILE_NOT_FOUND = 2;
        private const int ERROR_MORE_DATA = 234;

        public static readonly string[] Kinds = new string[] {
            "REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY", "REG_NONE", "missing" };

        public static Dictionary<string, object> Make(string kind, object data)
        {
            Dictionary<string, object> value = new Dictionary<string, object>();
            value.Add("kind", kind);
            value.Add("data", data);
            return value;
        }

        public static Dictionary<string, object> Missing()
        {
            return Make("missing", null);
        }

        /// <summary>Read value 'name' of an open key ("" is the default value); missing when it does not exist.</summary>
        public static Dictionary<string, object> Read(RegistryKey key, string name)
        {
            uint type;
            uint size = 0;
            int rc = NativeMethods.RegQueryValueExW(key.Handle, name, IntPtr.Zero, out type, null, ref size);
            if (rc == ERROR_FILE_NOT_FOUND)
                return Missing();
            if (rc != ERROR_SUCCESS && rc != ERROR_MORE_DATA)
                throw new Win32Exception(rc, String.Format("RegQueryValueExW({0}\\{1}) failed", key.Name, name));
            // The value can grow between the two calls: retry a few times with the size the last call returned.
            for (int attempt = 0; attempt < 8; attempt++)
            {
                byte[] buffer = new byte[size + 2];
                uint length = (uint)buffer.Length;
                rc = NativeMethods.RegQueryValueExW(key.Handle, name, IntPtr.Zero, out type, buffer, ref length);
                if (rc == ERROR_SUCCESS)
                    return Decode(type, buffer, (int)length);
                if (rc == ERROR_FILE_NOT_FOUND)
                    return Missing();
                if (rc != ERROR_MORE_DATA)
                    throw new Win32Exception(rc, String.Format("RegQueryValueExW({0}\\{1}) failed", key.Name, name));
                size = length;
            }
            throw new InvalidOperationException(String.Format("{0}\\{1} kept changing size while being read", key.Name, name));
        }

        /// <summary>
        /// Raw type and bytes to a value object. Strings are UTF-16LE; exactly one trailing NUL (the terminator) is
        /// removed and everything else is kept, embedded NULs included. A DWORD/QWORD of the wrong length, and the
        /// types the state schema has no name for (5, 6, 8, 9, 10), are reported as REG_BINARY hex.
        /// </summary>
        public static Dictionary<string, object> Decode(uint type, byte[] buffer, int length)
        {
            if (length < 0 || length > buffer.Length)
                throw new ArgumentOutOfRangeException("length");
            switch (type)
            {
                case REG_SZ:
                    return Make("REG_SZ", StripTerminator(Encoding.Unicode.GetString(buffer, 0, length)));
                case REG_EXPAND_SZ:
                    return Make("REG_EXPAND_SZ", StripTerminator(Encoding.Unicode.GetString(buffer, 0, length)));
                case REG_MULTI_SZ:
                    return Make("REG_MULTI_SZ", SplitMultiString(StripTerminator(Encoding.Unicode.GetString(buffer, 0, length))));
                case REG_DWORD:
                    if (length == 4)
                        return Make("REG_DWORD", (UInt32)ReadLittleEndian(buffer, 4));
                    break;
                case REG_QWORD:
                    if (length == 8)
                        return Make("REG_QWORD", ReadLittleEndian(buffer, 8));
                    break;
                case REG_NONE:
                    return Make("REG_NONE", ToHex(buffer, length));
            }
            return Make("REG_BINARY", ToHex(buffer, length));
        }

        private static string StripTerminator(string text)
        {
            if (text.Length > 0 && text[text.Length - 1] == '\0')
                return text.Substring(0, text.Length - 1);
            return text;
        }

        // "a\0b\0" (the list terminator already removed) -> {"a", "b"}; "" -> {}.
        private static string[] SplitMultiString(string text)
        {
            if (text.Length == 0)
                return new string[0];
            List<string> items = new List<string>(text.Split('\0'));
            if (items[items.Count - 1].Length == 0)
                items.RemoveAt(items.Count - 1);
            return items.ToArray();
        }

        private static UInt64 ReadLittleEndian(byte[] buffer, int count)
        {
            UInt64 value = 0;
            for (int i = count - 1; i >= 0; i--)
                value = (value << 8) | buffer[i];
            return value;
        }

        public static string ToHex(byte[] buffer, int length)
        {
            StringBuilder hex = new StringBuilder(length * 2);
            for (int i = 0; i < length; i++)
                hex.Append(buffer[i].ToString("x2", CultureInfo.InvariantCulture));
            return hex.ToString();
        }

        /// <summary>Bytes of hex text as Python's bytes.fromhex reads it: pairs of hex digits, whitespace between pairs.</summary>
        public static byte[] FromHex(string hex)
        {
            List<byte> bytes = new List<byte>(hex.Length / 2);
            int i = 0;
            while (i < hex.Length)
            {
                char c = hex[i];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
                {
                    i++;
                    continue;
                }
                if (i + 1 >= hex.Length || !Uri.IsHexDigit(c) || !Uri.IsHexDigit(hex[i + 1]))
                    throw new FormatException(String.Format("non-hexadecimal number found at position {0}", i));
                bytes.Add(Byte.Parse(hex.Substring(i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                i += 2;
            }
            return bytes.ToArray();
        }

        public static uint TypeOf(string kind)
        {
            switch (kind)
            {
                case "REG_SZ": return REG_SZ;
                case "REG_EXPAND_SZ": return REG_EXPAND_SZ;
                case "REG_MULTI_SZ": return REG_MULTI_SZ;
                case "REG_DWORD": return REG_DWORD;
                case "REG_QWORD": return REG_QWORD;
                case "REG_BINARY": return REG_BINARY;
                case "REG_NONE": return REG_NONE;
            }
            throw new ArgumentException(String.Format("no registry type for kind '{0}'", kind));
        }

        /// <summary>The bytes RegSetValueExW stores for a value object (not for "missing").</summary>
        public static byte[] Encode(IDictionary value)
        {
            string error = ShapeError(value);
            if (error != null)
                throw new ArgumentException(error);
            string kind = (string)value["kind"];
            object data = value["data"];
            switch (kind)
            {
                case "REG_SZ":
                case "REG_EXPAND_SZ":
                    return Encoding.Unicode.GetBytes((string)data + "\0");
                case "REG_MULTI_SZ":
                    StringBuilder text = new StringBuilder();
                    foreach (object item in (IEnumerable)data)
                        text.Append((string)item).Append('\0');
                    text.Append('\0');
                    return Encoding.Unicode.GetBytes(text.ToString());
                case "REG_DWORD":
                case "REG_QWORD":
                    decimal number;
                    PyText.TryInteger(data, out number);
                    return LittleEndian(Decimal.ToUInt64(number), kind == "REG_DWORD" ? 4 : 8);
                case "REG_BINARY":
                case "REG_NONE":
                    return FromHex((string)data);
            }
            throw new ArgumentException(String.Format("kind '{0}' has no data to write", kind));
        }

        private static byte[] LittleEndian(UInt64 value, int count)
        {
            byte[] bytes = new byte[count];
            for (int i = 0; i < count; i++)
                bytes[i] = (byte)((value >> (8 * i)) & 0xFF);
            return bytes;
        }

        /// <summary>Write (or, for kind "missing", delete) value 'name' of a key opened for writing.</summary>
        public static void Write(RegistryKey key, string name, IDictionary value)
        {
            string error = ShapeError(value);
            if (error != null)
                throw new ArgumentException(error);
            string kind = (string)value["kind"];
            if (kind == "missing")
            {
                key.DeleteValue(name, false);
                return;
            }
            byte[] bytes = Encode(value);
            int rc = NativeMethods.RegSetValueExW(key.Handle, name, 0, TypeOf(kind), bytes, (uint)bytes.Length);
            if (rc != ERROR_SUCCESS)
                throw new Win32Exception(rc, String.Format("RegSetValueExW({0}\\{1}) failed", key.Name, name));
        }

        /// <summary>Why 'value' is not a valid value object (the state schema's rules), or null when it is.</summary>
        public static string ShapeError(object value)
        {
            IDictionary map = value as IDictionary;
            if (map == null || !map.Contains("kind") || !map.Contains("data"))
                return "expected {kind, data}";
            string kind = map["kind"] as string;
            if (kind == null || Array.IndexOf(Kinds, kind) < 0)
                return String.Format("kind must be one of {0}", String.Join(", ", Kinds));
            object data = map["data"];
            switch (kind)
            {
                case "REG_SZ":
                case "REG_EXPAND_SZ":
                    return data is string ? null : kind + " data must be a string";
                case "REG_MULTI_SZ":
                    if (!(data is IList))
                        return "REG_MULTI_SZ data must be a list of strings";
                    foreach (object item in (IEnumerable)data)
                        if (!(item is string))
                            return "REG_MULTI_SZ data must be a list of strings";
                    return null;
                case "REG_DWORD":
                    return InRange(data, UInt32.MaxValue) ? null : "REG_DWORD data must be an unsigned integer below 2**32";
                case "REG_QWORD":
                    return InRange(data, UInt64.MaxValue) ? null : "REG_QWORD data must be an unsigned integer below 2**64";
                case "REG_BINARY":
                case "REG_NONE":
                    return IsHex(data) ? null : kind + " data must be a hex string";
                default:
                    return data == null ? null : "missing data must be null";
            }
        }

        // Integers only: JSON numbers arrive as Int32, Int64 or Decimal (Windows PowerShell 5.1), Int64 or BigInteger
        // (PowerShell 7 turns integers above Int64.MaxValue into System.Numerics.BigInteger, which is not IConvertible and
        // not referenced here: it is recognised by name and read from its digits), or as the engine's own JSON types.
        // A bool or a float is not an integer.
        internal static bool InRange(object data, decimal max)
        {
            decimal number;
            return PyText.TryInteger(data, out number) && number >= 0 && number <= max;
        }

        // As the state schema's _is_hex: an even number of characters that bytes.fromhex accepts (pairs of hex digits,
        // ASCII whitespace allowed between pairs).
        internal static bool IsHex(object data)
        {
            string text = data as string;
            if (text == null || PyText.Length(text) % 2 != 0)
                return false;
            try
            {
                FromHex(text);
            }
            catch (FormatException)
            {
                return false;
            }
            return true;
        }

        /// <summary>Compare-and-swap equality: same kind and exactly the same data (strings ordinal).</summary>
        public static bool Same(IDictionary left, IDictionary right)
        {
            if (ShapeError(left) != null || ShapeError(right) != null)
                return false;
            string kind = (string)left["kind"];
            if (kind != (string)right["kind"])
                return false;
            object a = left["data"];
            object b = right["data"];
            switch (kind)
            {
                case "missing":
                    return true;
                case "REG_MULTI_SZ":
                    List<string> listA = new List<string>();
                    foreach (object item in (IEnumerable)a)
                        listA.Add((string)item);
                    List<string> listB = new List<string>();
                    foreach (object item in (IEnumerable)b)
                        listB.Add((string)item);
                    if (listA.Count != listB.Count)
                        return false;
                    for (int i = 0; i < listA.Count; i++)
                        if (!String.Equals(listA[i], listB[i], StringComparison.Ordinal))
                            return false;
                    return true;
                case "REG_DWORD":
                case "REG_QWORD":
                    decimal numberA, numberB;
                    return PyText.TryInteger(a, out numberA) && PyText.TryInteger(b, out numberB) && numberA == numberB;
                case "REG_BINARY":
                case "REG_NONE":
                    byte[] bytesA = FromHex((string)a);
                    byte[] bytesB = FromHex((string)b);
                    return ToHex(bytesA, bytesA.Length) == ToHex(bytesB, bytesB.Length);
                default:
                    return String.Equals((string)a, (string)b, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>Command-line quoting for CreateProcess, as the Microsoft C runtime parses argv.</summary>
    public static class ProcessArgument
    {
        public static string Quote(string argument)
        {
            if (argument.Length > 0 && argument.IndexOfAny(new char[] { ' ', '\t', '\n', '\v', '"' }) < 0)
                return argument;
            StringBuilder quoted = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                if (c == '"')
                {
                    quoted.Append('\\', backslashes * 2 + 1);
                }
                else
                {
                    quoted.Append('\\', backslashes);
                }
                backslashes = 0;
                quoted.Append(c);
            }
            quoted.Append('\\', backslashes * 2);
            quoted.Append('"');
            return quoted.ToString();
        }

        public static string Join(string[] arguments)
        {
            List<string> quoted = new List<string>();
            foreach (string argument in arguments)
                quoted.Add(Quote(argument));
            return String.Join(" ", quoted.ToArray());
        }
    }
    /// <summary>
    /// Python's view of text and values, so that the engine's messages and decisions are the same as those of the
    /// Python reference (plugins/plugin_utils/_allowlist.py, _operations.check_shape): values shown to people as
    /// plugins/plugin_utils/_display.py shows them (Quoted, Visible, Shown: single backslashes, invisible characters
    /// named), str.lower(), len() in code points, type names, float repr. Repr (Python's repr) is kept for the JSON
    /// writer's numbers, the f"{value}" of a non-string and the one shape message that _operations.check_shape still
    /// writes with repr.
    /// </summary>
    public static class PyText
    {
        /// <summary>len(text): code points (a surrogate pair counts once, a lone surrogate once).</summary>
        public static int Length(string text)
        {
            int count = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (Char.IsHighSurrogate(text[i]) && i + 1 < text.Length && Char.IsLowSurrogate(text[i + 1]))
                    i++;
                count++;
            }
            return count;
        }

        /// <summary>text[:count] in code points.</summary>
        public static string Prefix(string text, int count)
        {
            int units = 0;
            for (int seen = 0; seen < count && units < text.Length; seen++)
            {
                if (Char.IsHighSurrogate(text[units]) && units + 1 < text.Length && Char.IsLowSurrogate(text[units + 1]))
                    units++;
                units++;
            }
            return text.Substring(0, units);
        }

        /// <summary>str.lower(): U+0130 is the one character whose lower case is two (i and U+0307).</summary>
        public static string Lower(string text)
        {
            StringBuilder lowered = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                if (c == '\u0130')
                    lowered.Append("i\u0307");
                else
                    lowered.Append(Char.ToLowerInvariant(c));
            }
            return lowered.ToString();
        }

        /// <summary>_allowlist._lower: one character for one character (a character whose lower case is longer is kept).</summary>
        public static string LowerPath(string text)
        {
            StringBuilder lowered = new StringBuilder(text.Length);
            foreach (char c in text)
                lowered.Append(c == '\u0130' ? c : Char.ToLowerInvariant(c));
            return lowered.ToString();
        }

        /// <summary>The regular expression [a-z] with re.IGNORECASE: ASCII letters, and four that case-fold to them.</summary>
        public static bool IsDriveLetter(char c)
        {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\u0130' || c == '\u0131' || c == '\u017f' || c == '\u212a';
        }

        /// <summary>^[a-z]:\\ with re.IGNORECASE.</summary>
        public static bool StartsWithDrive(string text)
        {
            return text.Length >= 3 && IsDriveLetter(text[0]) && text[1] == ':' && text[2] == '\\';
        }

        /// <summary>An integral JSON number (not a bool, not a float), as a decimal.</summary>
        public static bool TryInteger(object data, out decimal number)
        {
            number = 0;
            if (data == null || data is bool || data is float || data is double || data is string || data is char)
                return false;
            if (data is decimal)
            {
                number = (decimal)data;
                return number == Decimal.Truncate(number) && ((decimal)data).ToString(CultureInfo.InvariantCulture).IndexOf('.') < 0;
            }
            string typeName = data.GetType().FullName;
            if (typeName == "System.Numerics.BigInteger" || data is JsonBigInteger)
                return Decimal.TryParse(data.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number);
            if (!(data is IConvertible))
                return false;
            try
            {
                number = Convert.ToDecimal(data, CultureInfo.InvariantCulture);
            }
            catch (Exception)
            {
                return false;
            }
            return number == Decimal.Truncate(number);
        }

        /// <summary>Whether a value is a Python int once parsed from JSON (any integral number, not a bool).</summary>
        public static bool IsInteger(object data)
        {
            if (data is JsonBigInteger)
                return true;
            decimal unused;
            return TryInteger(data, out unused);
        }

        /// <summary>type(value).__name__ of a JSON value.</summary>
        public static string TypeName(object value)
        {
            if (value == null)
                return "NoneType";
            if (value is bool)
                return "bool";
            if (value is string)
                return "str";
            if (IsInteger(value))
                return "int";
            if (value is float || value is double || value is decimal)
                return "float";
            if (value is IDictionary)
                return "dict";
            if (value is IEnumerable)
                return "list";
            return value.GetType().Name;
        }

        /// <summary>_state._describe: "null", "a boolean", "an integer", "a number", "a string", "a list", "an object".</summary>
        public static string Describe(object value)
        {
            switch (TypeName(value))
            {
                case "NoneType": return "null";
                case "bool": return "a boolean";
                case "int": return "an integer";
                case "float": return "a number";
                case "str": return "a string";
                case "list": return "a list";
                case "dict": return "an object";
            }
            return value.GetType().Name;
        }

        /// <summary>repr() of a JSON value (None, True, 1, 1.5, 'text', [..], {..}).</summary>
        public static string Repr(object value)
        {
            if (value == null)
                return "None";
            if (value is bool)
                return (bool)value ? "True" : "False";
            if (value is string)
                return ReprString((string)value);
            if (value is JsonBigInteger)
                return value.ToString();
            if (value is double || value is float)
                return FloatRepr(Convert.ToDouble(value, CultureInfo.InvariantCulture));
            decimal number;
            if (TryInteger(value, out number))
                return number.ToString("0", CultureInfo.InvariantCulture);
            if (value is decimal)
                return FloatRepr((double)(decimal)value);
            IDictionary map = value as IDictionary;
            if (map != null)
            {
                List<string> items = new List<string>();
                foreach (DictionaryEntry entry in map)
                    items.Add(Repr(entry.Key) + ": " + Repr(entry.Value));
                return "{" + String.Join(", ", items.ToArray()) + "}";
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                List<string> items = new List<string>();
                foreach (object item in list)
                    items.Add(Repr(item));
                return "[" + String.Join(", ", items.ToArray()) + "]";
            }
            return value.ToString();
        }

        /// <summary>repr(str): the quote Python picks, its escapes, and str.isprintable() for everything else.</summary>
        public static string ReprString(string text)
        {
            char quote = text.IndexOf('\'') >= 0 && text.IndexOf('"') < 0 ? '"' : '\'';
            StringBuilder repr = new StringBuilder(text.Length + 2);
            repr.Append(quote);
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                int codePoint = c;
                bool pair = Char.IsHighSurrogate(c) && i + 1 < text.Length && Char.IsLowSurrogate(text[i + 1]);
                if (pair)
                    codePoint = Char.ConvertToUtf32(c, text[i + 1]);
                if (c == quote || c == '\\')
                    repr.Append('\\').Append(c);
                else if (c == '\t')
                    repr.Append("\\t");
                else if (c == '\n')
                    repr.Append("\\n");
                else if (c == '\r')
                    repr.Append("\\r");
                else if (c < ' ' || c == '\x7f')
                    repr.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                else if (c < '\x7f')
                    repr.Append(c);
                else if (IsPrintable(text, i))
                    repr.Append(pair ? text.Substring(i, 2) : c.ToString());
                else if (codePoint <= 0xff)
                    repr.Append("\\x").Append(codePoint.ToString("x2", CultureInfo.InvariantCulture));
                else if (codePoint <= 0xffff)
                    repr.Append("\\u").Append(codePoint.ToString("x4", CultureInfo.InvariantCulture));
                else
                    repr.Append("\\U").Append(codePoint.ToString("x8", CultureInfo.InvariantCulture));
                if (pair)
                    i++;
            }
            return repr.Append(quote).ToString();
        }

        /// <summary>
        /// _display.visible: the text with every character that cannot be seen named (&lt;NUL&gt;, &lt;TAB&gt;, &lt;LF&gt;,
        /// &lt;CR&gt;, &lt;DEL&gt;, else &lt;U+XXXX&gt;), backslashes as they are; with edges, leading and trailing spaces
        /// marked &lt;SP&gt;.
        /// </summary>
        public static string Visible(string text, bool edges = false)
        {
            StringBuilder shown = new StringBuilder(text.Length);
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                bool pair = Char.IsHighSurrogate(c) && i + 1 < text.Length && Char.IsLowSurrogate(text[i + 1]);
                if (c == ' ' || IsPrintable(text, i))
                    shown.Append(pair ? text.Substring(i, 2) : c.ToString());
                else if (c == '\0')
                    shown.Append("<NUL>");
                else if (c == '\t')
                    shown.Append("<TAB>");
                else if (c == '\n')
                    shown.Append("<LF>");
                else if (c == '\r')
                    shown.Append("<CR>");
                else if (c == '\x7f')
                    shown.Append("<DEL>");
                else
                    shown.Append("<U+").Append((pair ? Char.ConvertToUtf32(c, text[i + 1]) : (int)c).ToString("X4", CultureInfo.InvariantCulture)).Append('>');
                if (pair)
                    i++;
            }
            string visible = shown.ToString();
            if (!edges)
                return visible;
            string body = visible.Trim(' ');
            if (body.Length == visible.Length)
                return visible;
            int lead = visible.Length - visible.TrimStart(' ').Length;
            int trail = body.Length == 0 ? 0 : visible.Length - visible.TrimEnd(' ').Length;
            return Repeat("<SP>", lead) + body + Repeat("<SP>", trail);
        }

        private static string Repeat(string text, int count)
        {
            StringBuilder repeated = new StringBuilder(text.Length * count);
            for (int i = 0; i < count; i++)
                repeated.Append(text);
            return repeated.ToString();
        }

        /// <summary>
        /// _display.quoted: the text in single quotes (double quotes when it holds a single quote and no double quote),
        /// backslashes as they are, invisible characters named; with a limit (&gt;= 0), at most that many code points
        /// and "..." inside the quotes. The way every value is shown in a sentence (never repr, which doubles each
        /// backslash of a Windows path).
        /// </summary>
        public static string Quoted(string text, int limit = -1)
        {
            bool cut = limit >= 0 && Length(text) > limit;
            string body = Visible(cut ? Prefix(text, limit) : text) + (cut ? "..." : "");
            char mark = text.IndexOf('\'') >= 0 && text.IndexOf('"') < 0 ? '"' : '\'';
            return mark + body + mark;
        }

        /// <summary>
        /// _display.shown of a JSON value: a string quoted (Quoted), null, true/false, numbers as Python writes them,
        /// lists [a, b] and mappings {key: value} (a key that is an identifier bare, any other quoted).
        /// </summary>
        public static string Shown(object value, int limit = -1)
        {
            if (value is string)
                return Quoted((string)value, limit);
            if (value == null)
                return "null";
            if (value is bool)
                return (bool)value ? "true" : "false";
            IDictionary map = value as IDictionary;
            if (map != null)
            {
                List<string> items = new List<string>();
                foreach (DictionaryEntry entry in map)
                {
                    string key = entry.Key as string;
                    items.Add((key != null && IsIdentifier(key) ? key : Shown(entry.Key, -1)) + ": " + Shown(entry.Value, limit));
                }
                return "{" + String.Join(", ", items.ToArray()) + "}";
            }
            if (value is IEnumerable)
            {
                List<string> items = new List<string>();
                foreach (object item in (IEnumerable)value)
                    items.Add(Shown(item, limit));
                return "[" + String.Join(", ", items.ToArray()) + "]";
            }
            return Repr(value);  // a number: str() and repr() of an int or a float are the same text
        }

        /// <summary>
        /// str.isidentifier() (Unicode's XID_Start then XID_Continue): a letter (Lu, Ll, Lt, Lm, Lo, Nl) or '_' first,
        /// then letters, marks (Mn, Mc), digits (Nd) or connector punctuation (Pc), with the exceptions of those tables
        /// written out below.
        /// </summary>
        public static bool IsIdentifier(string text)
        {
            if (text.Length == 0)
                return false;
            for (int i = 0; i < text.Length; i++)
            {
                int codePoint = text[i];
                if (Char.IsHighSurrogate(text[i]) && i + 1 < text.Length && Char.IsLowSurrogate(text[i + 1]))
                    codePoint = Char.ConvertToUtf32(text[i], text[i + 1]);
                bool start = false, next = false;
                switch (CharUnicodeInfo.GetUnicodeCategory(text, i))
                {
                    case UnicodeCategory.UppercaseLetter:
                    case UnicodeCategory.LowercaseLetter:
                    case UnicodeCategory.TitlecaseLetter:
                    case UnicodeCategory.ModifierLetter:
                    case UnicodeCategory.OtherLetter:
                    case UnicodeCategory.LetterNumber:
                        start = true;
                        break;
                    case UnicodeCategory.NonSpacingMark:
                    case UnicodeCategory.SpacingCombiningMark:
                    case UnicodeCategory.DecimalDigitNumber:
                    case UnicodeCategory.ConnectorPunctuation:
                        next = true;
                        break;
                }
                if (codePoint == '_' || codePoint == 0x1885 || codePoint == 0x1886 || codePoint == 0x2118 || codePoint == 0x212e)
                    start = true;  // Other_ID_Start, and '_'
                else if (codePoint == 0xb7 || codePoint == 0x387 || (codePoint >= 0x1369 && codePoint <= 0x1371) || codePoint == 0x19da)
                    next = true;  // Other_ID_Continue
                else if (codePoint == 0xe33 || codePoint == 0xeb3 || codePoint == 0xff9e || codePoint == 0xff9f)
                {
                    start = false;  // letters whose NFKC form cannot start an identifier
                    next = true;
                }
                else if (codePoint == 0x37a || codePoint == 0x2e2f || (codePoint >= 0xfc5e && codePoint <= 0xfc63) || codePoint == 0xfdfa ||
                         codePoint == 0xfdfb || (codePoint >= 0xfe70 && codePoint <= 0xfe7e && codePoint % 2 == 0))
                    start = false;  // letters whose NFKC form is not an identifier at all
                if (!(start || (i > 0 && next)))
                    return false;
                if (codePoint > 0xffff)
                    i++;
            }
            return true;
        }

        // str.isprintable() of one code point: not Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (the ASCII space is handled before).
        private static bool IsPrintable(string text, int index)
        {
            switch (CharUnicodeInfo.GetUnicodeCategory(text, index))
            {
                case UnicodeCategory.Control:
                case UnicodeCategory.Format:
                case UnicodeCategory.Surrogate:
                case UnicodeCategory.PrivateUse:
                case UnicodeCategory.OtherNotAssigned:
                case UnicodeCategory.LineSeparator:
                case UnicodeCategory.ParagraphSeparator:
                case UnicodeCategory.SpaceSeparator:
                    return false;
            }
            return true;
        }

        /// <summary>
        /// float.__repr__: the shortest digits that read back as the same double, in fixed notation when the decimal
        /// exponent is between -4 and 16, else d.ddde+XX. The digits are computed exactly here (not with "R" or "E16",
        /// whose output differs between .NET Framework, .NET and mono), so every runtime writes the same text.
        /// </summary>
        public static string FloatRepr(double value)
        {
            if (Double.IsNaN(value))
                return "nan";
            if (Double.IsPositiveInfinity(value))
                return "inf";
            if (Double.IsNegativeInfinity(value))
                return "-inf";
            bool negative = value < 0 || (value == 0 && 1 / value < 0);
            double magnitude = Math.Abs(value);
            if (magnitude == 0)
                return negative ? "-0.0" : "0.0";
            int point;
            string digits = ExactFloat.ShortestDigits(magnitude, out point);  // value = 0.<digits> * 10**point
            StringBuilder repr = new StringBuilder(negative ? "-" : "");
            if (point > -4 && point <= 16)
            {
                if (point <= 0)
                    repr.Append("0.").Append('0', -point).Append(digits);
                else if (point >= digits.Length)
                    repr.Append(digits).Append('0', point - digits.Length).Append(".0");
                else
                    repr.Append(digits.Substring(0, point)).Append('.').Append(digits.Substring(point));
            }
            else
            {
                repr.Append(digits[0]);
                if (digits.Length > 1)
                    repr.Append('.').Append(digits.Substring(1));
                int shown = point - 1;
                repr.Append('e').Append(shown < 0 ? '-' : '+').Append(Math.Abs(shown).ToString("00", CultureInfo.InvariantCulture));
            }
            return repr.ToString();
        }
    }

    /// <summary>
    /// A non-negative integer of any size (System.Numerics is not referenced by Ansible's AddType on Windows PowerShell
    /// 5.1): just what exact float printing and parsing need, so that both runtimes write and read the same bytes.
    /// </summary>
    internal sealed class BigNat
    {
        private readonly uint[] limbs;  // little-endian, no leading zero limb

        private BigNat(uint[] limbs)
        {
            int length = limbs.Length;
            while (length > 0 && limbs[length - 1] == 0)
                length--;
            if (length != limbs.Length)
                Array.Resize(ref limbs, length);
            this.limbs = limbs;
        }

        public static BigNat Of(ulong value)
        {
            return new BigNat(new uint[] { (uint)value, (uint)(value >> 32) });
        }

        public bool IsZero
        {
            get { return limbs.Length == 0; }
        }

        public int BitLength
        {
            get
            {
                if (limbs.Length == 0)
                    return 0;
                int bits = 32 * (limbs.Length - 1);
                for (uint top = limbs[limbs.Length - 1]; top != 0; top >>= 1)
                    bits++;
                return bits;
            }
        }

        public BigNat Mul(uint factor)
        {
            uint[] result = new uint[limbs.Length + 1];
            ulong carry = 0;
            for (int i = 0; i < limbs.Length; i++)
            {
                ulong product = (ulong)limbs[i] * factor + carry;
                result[i] = (uint)product;
                carry = product >> 32;
            }
            result[limbs.Length] = (uint)carry;
            return new BigNat(result);
        }

        public BigNat MulPow10(int exponent)
        {
            BigNat result = this;
            for (; exponent >= 9; exponent -= 9)
                result = result.Mul(1000000000);
            for (; exponent > 0; exponent--)
                result = result.Mul(10);
            return result;
        }

        public BigNat ShiftLeft(int bits)
        {
            int words = bits / 32;
            int shift = bits % 32;
            uint[] result = new uint[limbs.Length + words + 1];
            for (int i = 0; i < limbs.Length; i++)
            {
                result[i + words] |= limbs[i] << shift;
                if (shift > 0)
                    result[i + words + 1] |= limbs[i] >> (32 - shift);
            }
            return new BigNat(result);
        }

        public BigNat Add(BigNat other)
        {
            int length = Math.Max(limbs.Length, other.limbs.Length);
            uint[] result = new uint[length + 1];
            ulong carry = 0;
            for (int i = 0; i < length; i++)
            {
                ulong sum = carry + (i < limbs.Length ? limbs[i] : 0u) + (i < other.limbs.Length ? other.limbs[i] : 0u);
                result[i] = (uint)sum;
                carry = sum >> 32;
            }
            result[length] = (uint)carry;
            return new BigNat(result);
        }

        /// <summary>this - other, other &lt;= this.</summary>
        public BigNat Sub(BigNat other)
        {
            uint[] result = new uint[limbs.Length];
            long borrow = 0;
            for (int i = 0; i < limbs.Length; i++)
            {
                long difference = (long)limbs[i] - (i < other.limbs.Length ? other.limbs[i] : 0u) - borrow;
                borrow = difference < 0 ? 1 : 0;
                result[i] = (uint)(difference + (borrow << 32));
            }
            return new BigNat(result);
        }

        public int CompareTo(BigNat other)
        {
            if (limbs.Length != other.limbs.Length)
                return limbs.Length < other.limbs.Length ? -1 : 1;
            for (int i = limbs.Length - 1; i >= 0; i--)
                if (limbs[i] != other.limbs[i])
                    return limbs[i] < other.limbs[i] ? -1 : 1;
            return 0;
        }

        /// <summary>floor(this / divisor) when it fits in 64 bits, and the remainder (binary long division).</summary>
        public ulong DivideSmallQuotient(BigNat divisor, out BigNat remainder)
        {
            BigNat rest = this;
            ulong quotient = 0;
            int top = BitLength - divisor.BitLength;
            for (int bit = Math.Min(top, 63); bit >= 0; bit--)
            {
                BigNat shifted = divisor.ShiftLeft(bit);
                if (shifted.CompareTo(rest) <= 0)
                {
                    rest = rest.Sub(shifted);
                    quotient |= 1UL << bit;
                }
            }
            remainder = rest;
            return quotient;
        }
    }

    /// <summary>Exact conversions between doubles and decimal text: Python's repr() and correctly rounded parsing.</summary>
    internal static class ExactFloat
    {
        /// <summary>
        /// The shortest digits that read back as value (value &gt; 0, finite), and k with value = 0.digits * 10**k:
        /// Burger and Dybvig, "Printing Floating-Point Numbers Quickly and Accurately" (free-format, round-to-nearest-even
        /// reader), the output Python's repr() gives.
        /// </summary>
        public static string ShortestDigits(double value, out int point)
        {
            long bits = BitConverter.DoubleToInt64Bits(value);
            int biased = (int)((bits >> 52) & 0x7FF);
            ulong fraction = (ulong)bits & 0xFFFFFFFFFFFFFUL;
            ulong f = biased == 0 ? fraction : fraction | (1UL << 52);
            int e = biased == 0 ? -1074 : biased - 1075;
            bool even = (f & 1) == 0;
            BigNat r;
            BigNat s;
            BigNat plus;
            BigNat minus;
            if (e >= 0)
            {
                BigNat be = BigNat.Of(1).ShiftLeft(e);
                if (f != 1UL << 52)
                {
                    r = BigNat.Of(f).ShiftLeft(e + 1);
                    s = BigNat.Of(2);
                    plus = be;
                    minus = be;
                }
                else
                {
                    r = BigNat.Of(f).ShiftLeft(e + 2);
                    s = BigNat.Of(4);
                    plus = be.ShiftLeft(1);
                    minus = be;
                }
            }
            else if (biased <= 1 || f != 1UL << 52)
            {
                r = BigNat.Of(f).ShiftLeft(1);
                s = BigNat.Of(1).ShiftLeft(1 - e);
                plus = BigNat.Of(1);
                minus = BigNat.Of(1);
            }
            else
            {
                r = BigNat.Of(f).ShiftLeft(2);
                s = BigNat.Of(1).ShiftLeft(2 - e);
                plus = BigNat.Of(2);
                minus = BigNat.Of(1);
            }
            int k = (int)Math.Ceiling(Math.Log10(value) - 1e-10);
            if (k >= 0)
                s = s.MulPow10(k);
            else
            {
                r = r.MulPow10(-k);
                plus = plus.MulPow10(-k);
                minus = minus.MulPow10(-k);
            }
            int high = r.Add(plus).CompareTo(s);
            if (even ? high >= 0 : high > 0)
                k++;
            else
            {
                r = r.Mul(10);
                plus = plus.Mul(10);
                minus = minus.Mul(10);
            }
            StringBuilder digits = new StringBuilder();
            while (true)
            {
                int digit = 0;
                while (r.CompareTo(s) >= 0)
                {
                    r = r.Sub(s);
                    digit++;
                }
                int low = r.CompareTo(minus);
                bool lowDone = even ? low <= 0 : low < 0;
                high = r.Add(plus).CompareTo(s);
                bool highDone = even ? high >= 0 : high > 0;
                if (!lowDone && !highDone)
                {
                    digits.Append((char)('0' + digit));
                    r = r.Mul(10);
                    plus = plus.Mul(10);
                    minus = minus.Mul(10);
                    continue;
                }
                if (lowDone && highDone)
                {
                    // Both neighbours read back: the nearer one; on an exact tie the even digit (as Python's repr).
                    int half = r.ShiftLeft(1).CompareTo(s);
                    if (half > 0 || (half == 0 && digit % 2 == 1))
                        digit++;
                }
                else if (highDone)
                    digit++;
                digits.Append((char)('0' + digit));
                break;
            }
            point = k;
            return digits.ToString();
        }

        /// <summary>The double nearest to digits * 10**exponent (ties to even), as IEEE 754 and Python's float() read it.</summary>
        public static double FromDecimal(string digits, int exponent, bool negative)
        {
            string trimmed = digits.TrimStart('0');
            double zero = negative ? -0.0 : 0.0;
            if (trimmed.Length == 0)
                return zero;
            if (trimmed.Length + exponent > 310)
                return negative ? Double.NegativeInfinity : Double.PositiveInfinity;
            if (trimmed.Length + exponent < -330)
                return zero;
            BigNat number = BigNat.Of(0);
            foreach (char c in trimmed)
                number = number.Mul(10).Add(BigNat.Of((ulong)(c - '0')));
            BigNat denominator = BigNat.Of(1);
            if (exponent >= 0)
                number = number.MulPow10(exponent);
            else
                denominator = denominator.MulPow10(-exponent);
            // q = floor(number * 2**shift / denominator) with 54 bits (53 and a rounding bit), or the subnormal range.
            int shift = 54 - (number.BitLength - denominator.BitLength);
            BigNat remainder;
            ulong q;
            while (true)
            {
                if (shift > 1075)
                    shift = 1075;
                q = Quotient(number, denominator, shift, out remainder);
                if (q >= 1UL << 54 && shift > -2000)
                {
                    shift--;
                    continue;
                }
                if (q < 1UL << 53 && shift < 1075)
                {
                    shift++;
                    continue;
                }
                break;
            }
            ulong mantissa = q >> 1;
            bool round = (q & 1) != 0;
            bool sticky = !remainder.IsZero;
            if (round && (sticky || (mantissa & 1) != 0))
                mantissa++;
            int binaryExponent = 1 - shift;  // value = mantissa * 2**binaryExponent
            if (mantissa == 1UL << 53)
            {
                mantissa >>= 1;
                binaryExponent++;
            }
            long bits;
            if (mantissa < 1UL << 52)
                bits = (long)mantissa;  // subnormal (shift capped at 1075: binaryExponent is -1074)
            else
            {
                int biased = binaryExponent + 52 + 1023;
                if (biased >= 0x7FF)
                    return negative ? Double.NegativeInfinity : Double.PositiveInfinity;
                bits = ((long)biased << 52) | (long)(mantissa & 0xFFFFFFFFFFFFFUL);
            }
            double value = BitConverter.Int64BitsToDouble(bits);
            return negative ? -value : value;
        }

        private static ulong Quotient(BigNat number, BigNat denominator, int shift, out BigNat remainder)
        {
            if (shift >= 0)
                return number.ShiftLeft(shift).DivideSmallQuotient(denominator, out remainder);
            return number.DivideSmallQuotient(denominator.ShiftLeft(-shift), out remainder);
        }

        /// <summary>Parse a JSON number with a fraction or exponent (the grammar was checked by the reader).</summary>
        public static double Parse(string token)
        {
            bool negative = token.StartsWith("-");
            string body = negative ? token.Substring(1) : token;
            int exponent = 0;
            int e = body.IndexOfAny(new char[] { 'e', 'E' });
            if (e >= 0)
            {
                string power = body.Substring(e + 1);
                if (power.TrimStart('+', '-').TrimStart('0').Length > 6)
                    exponent = power.StartsWith("-") ? -100000 : 100000;
                else
                    exponent = Int32.Parse(power, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                body = body.Substring(0, e);
            }
            int dot = body.IndexOf('.');
            if (dot >= 0)
            {
                exponent -= body.Length - dot - 1;
                body = body.Remove(dot, 1);
            }
            return FromDecimal(body, exponent, negative);
        }
    }

    /// <summary>An integer too large for a decimal, kept as its digits (Python's int has no limit).</summary>
    public sealed class JsonBigInteger
    {
        private readonly string digits;

        public JsonBigInteger(string digits)
        {
            this.digits = digits;
        }

        public override string ToString()
        {
            return digits;
        }

        public override bool Equals(object other)
        {
            JsonBigInteger big = other as JsonBigInteger;
            return big != null && big.digits == digits;
        }

        public override int GetHashCode()
        {
            return digits.GetHashCode();
        }
    }

    /// <summary>
    /// JSON for the backup records: a strict reader, and a writer that produces exactly what Python's
    /// json.dumps(value, indent=1, sort_keys=True) produces (ASCII only, \uXXXX escapes), so the bytes of a record do not
    /// depend on the runtime (Windows PowerShell 5.1 or PowerShell 7) nor on the order of a Hashtable's keys.
    /// Values: Dictionary&lt;string, object&gt;, List&lt;object&gt;, string, long, decimal (integers beyond Int64),
    /// JsonBigInteger, double, bool, null.
    /// </summary>
    public static class BackupJson
    {
        public static object Parse(string text)
        {
            int position = 0;
            SkipSpace(text, ref position);
            object value = ReadValue(text, ref position, 0);
            SkipSpace(text, ref position);
            if (position != text.Length)
                throw Error(text, position, "the end of the text");
            return value;
        }

        private static FormatException Error(string text, int position, string expected)
        {
            return new FormatException(String.Format(CultureInfo.InvariantCulture, "invalid JSON at character {0}: expected {1}", position, expected));
        }

        private static void SkipSpace(string text, ref int position)
        {
            while (position < text.Length && (text[position] == ' ' || text[position] == '\t' || text[position] == '\n' || text[position] == '\r'))
                position++;
        }

        private static object ReadValue(string text, ref int position, int depth)
        {
            if (depth > 200)
                throw Error(text, position, "less nesting (200 levels at most)");
            if (position >= text.Length)
                throw Error(text, position, "a value");
            char c = text[position];
            if (c == '{')
            {
                Dictionary<string, object> map = new Dictionary<string, object>();
                position++;
                if (Closed(text, ref position, '}'))
                    return map;
                do
                {
                    SkipSpace(text, ref position);
                    if (position >= text.Length || text[position] != '"')
                        throw Error(text, position, "a string key");
                    string key = ReadString(text, ref position);
                    SkipSpace(text, ref position);
                    if (position >= text.Length || text[position] != ':')
                        throw Error(text, position, "':'");
                    position++;
                    SkipSpace(text, ref position);
                    map[key] = ReadValue(text, ref position, depth + 1);
                }
                while (!EndOfItems(text, ref position, '}'));
                return map;
            }
            if (c == '[')
            {
                List<object> list = new List<object>();
                position++;
                if (Closed(text, ref position, ']'))
                    return list;
                do
                {
                    SkipSpace(text, ref position);
                    list.Add(ReadValue(text, ref position, depth + 1));
                }
                while (!EndOfItems(text, ref position, ']'));
                return list;
            }
            if (c == '"')
                return ReadString(text, ref position);
            if (String.CompareOrdinal(text, position, "true", 0, 4) == 0)
            {
                position += 4;
                return true;
            }
            if (String.CompareOrdinal(text, position, "false", 0, 5) == 0)
            {
                position += 5;
                return false;
            }
            if (String.CompareOrdinal(text, position, "null", 0, 4) == 0)
            {
                position += 4;
                return null;
            }
            return ReadNumber(text, ref position);
        }

        // An empty object or array: its closing bracket right after the opening one.
        private static bool Closed(string text, ref int position, char close)
        {
            SkipSpace(text, ref position);
            if (position < text.Length && text[position] == close)
            {
                position++;
                return true;
            }
            return false;
        }

        // After an item: ',' (another follows: false) or the closing bracket (true); anything else is an error.
        private static bool EndOfItems(string text, ref int position, char close)
        {
            SkipSpace(text, ref position);
            if (position < text.Length && text[position] == ',')
            {
                position++;
                return false;
            }
            if (Closed(text, ref position, close))
                return true;
            throw Error(text, position, "',' or '" + close + "'");
        }

        // JSON's named escapes (\" \\ \/ \b \f \n \r \t) and the characters they stand for; '/' is read, never written.
        private const string EscapeLetters = "\"\\/bfnrt";
        private const string EscapedCharacters = "\"\\/\b\f\n\r\t";

        private static string ReadString(string text, ref int position)
        {
            StringBuilder value = new StringBuilder();
            position++;
            while (true)
            {
                if (position >= text.Length)
                    throw Error(text, position, "'\"' closing the string");
                char c = text[position++];
                if (c == '"')
                    return value.ToString();
                if (c < ' ')
                    throw Error(text, position - 1, "an escaped control character");
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (position >= text.Length)
                    throw Error(text, position, "an escape");
                char escape = text[position++];
                int named = EscapeLetters.IndexOf(escape);
                if (named >= 0)
                {
                    value.Append(EscapedCharacters[named]);
                    continue;
                }
                if (escape != 'u')
                    throw Error(text, position - 1, "a valid escape");
                if (position + 4 > text.Length)
                    throw Error(text, position, "4 hex digits");
                int code = 0;
                for (int i = 0; i < 4; i++)
                {
                    char h = text[position + i];
                    if (!Uri.IsHexDigit(h))
                        throw Error(text, position + i, "a hex digit");
                    code = code * 16 + Uri.FromHex(h);
                }
                position += 4;
                value.Append((char)code);
            }
        }

        private static object ReadNumber(string text, ref int position)
        {
            int start = position;
            if (position < text.Length && text[position] == '-')
                position++;
            int digitsStart = position;
            while (position < text.Length && text[position] >= '0' && text[position] <= '9')
                position++;
            if (position == digitsStart || (text[digitsStart] == '0' && position - digitsStart > 1))
                throw Error(text, start, "a value");
            bool integral = true;
            if (position < text.Length && text[position] == '.')
            {
                integral = false;
                position++;
                int fraction = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9')
                    position++;
                if (position == fraction)
                    throw Error(text, position, "a digit");
            }
            if (position < text.Length && (text[position] == 'e' || text[position] == 'E'))
            {
                integral = false;
                position++;
                if (position < text.Length && (text[position] == '+' || text[position] == '-'))
                    position++;
                int exponent = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9')
                    position++;
                if (position == exponent)
                    throw Error(text, position, "a digit");
            }
            string token = text.Substring(start, position - start);
            if (!integral)
                return ExactFloat.Parse(token);  // correctly rounded (.NET Framework's Double.Parse is not always)
            long small;
            if (Int64.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out small))
                return small;
            decimal large;
            if (Decimal.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out large))
                return large;
            return new JsonBigInteger(token.StartsWith("-0") ? "0" : token);
        }

        /// <summary>json.dumps(value, indent=1, sort_keys=True) (no trailing newline).</summary>
        public static string Dump(object value)
        {
            StringBuilder text = new StringBuilder();
            Write(text, Normalize(value), 0);
            return text.ToString();
        }

        private static void Write(StringBuilder text, object value, int depth)
        {
            if (value == null)
            {
                text.Append("null");
                return;
            }
            if (value is bool)
            {
                text.Append((bool)value ? "true" : "false");
                return;
            }
            string s = value as string;
            if (s != null)
            {
                WriteString(text, s);
                return;
            }
            if (value is long || value is decimal || value is JsonBigInteger)
            {
                text.Append(PyText.Repr(value));
                return;
            }
            if (value is double)
            {
                double d = (double)value;
                if (Double.IsNaN(d))
                    text.Append("NaN");
                else if (Double.IsInfinity(d))
                    text.Append(d > 0 ? "Infinity" : "-Infinity");
                else
                    text.Append(PyText.FloatRepr(d));
                return;
            }
            Dictionary<string, object> map = value as Dictionary<string, object>;
            if (map != null)
            {
                if (map.Count == 0)
                {
                    text.Append("{}");
                    return;
                }
                List<string> keys = new List<string>(map.Keys);
                keys.Sort(CompareCodePoints);
                text.Append('{');
                for (int i = 0; i < keys.Count; i++)
                {
                    text.Append(i == 0 ? "\n" : ",\n").Append(' ', depth + 1);
                    WriteString(text, keys[i]);
                    text.Append(": ");
                    Write(text, map[keys[i]], depth + 1);
                }
                text.Append('\n').Append(' ', depth).Append('}');
                return;
            }
            List<object> list = (List<object>)value;
            if (list.Count == 0)
            {
                text.Append("[]");
                return;
            }
            text.Append('[');
            for (int i = 0; i < list.Count; i++)
            {
                text.Append(i == 0 ? "\n" : ",\n").Append(' ', depth + 1);
                Write(text, list[i], depth + 1);
            }
            text.Append('\n').Append(' ', depth).Append(']');
        }

        // Python sorts str keys by code point; ordinal UTF-16 order differs above U+D7FF.
        private static int CompareCodePoints(string left, string right)
        {
            int i = 0;
            while (i < left.Length && i < right.Length)
            {
                int a = CodePointAt(left, i);
                int b = CodePointAt(right, i);
                if (a != b)
                    return a < b ? -1 : 1;
                i += a > 0xffff ? 2 : 1;
            }
            if (i >= left.Length && i >= right.Length)
                return 0;
            return i >= left.Length ? -1 : 1;
        }

        private static int CodePointAt(string text, int index)
        {
            if (Char.IsHighSurrogate(text[index]) && index + 1 < text.Length && Char.IsLowSurrogate(text[index + 1]))
                return Char.ConvertToUtf32(text[index], text[index + 1]);
            return text[index];
        }

        // ensure_ascii: " and \ escaped, \n \r \t \b \f by name, everything outside ' '..'~' as \u00xx (lower-case hex).
        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                int named = EscapedCharacters.IndexOf(c);
                if (named >= 0 && c != '/')
                    text.Append('\\').Append(EscapeLetters[named]);
                else if (c < ' ' || c > '~')
                    text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else
                    text.Append(c);
            }
            text.Append('"');
        }

        /// <summary>
        /// A .NET value (what Ansible.Basic and ConvertFrom-Json give on 5.1 or 7: Hashtable, Dictionary, object[],
        /// List, Int32/Int64/Decimal/BigInteger, Double, PSObject-wrapped values) as the plain JSON types above.
        /// </summary>
        public static object Normalize(object value)
        {
            if (value == null)
                return null;
            if (value.GetType().FullName == "System.Management.Automation.PSObject")
                return Normalize(value.GetType().GetProperty("BaseObject").GetValue(value, null));
            if (value is string || value is bool || value is long || value is double || value is JsonBigInteger)
                return value;
            if (value is char)
                return value.ToString();
            if (value is int || value is short || value is sbyte || value is byte || value is ushort || value is uint)
                return Convert.ToInt64(value, CultureInfo.InvariantCulture);
            if (value is float)
                return (double)(float)value;
            if (value is ulong || value is decimal || value.GetType().FullName == "System.Numerics.BigInteger")
            {
                decimal number;
                if (PyText.TryInteger(value, out number))
                {
                    if (number >= Int64.MinValue && number <= Int64.MaxValue)
                        return (long)number;
                    return number;
                }
                if (value is decimal)
                    return (double)(decimal)value;
                return new JsonBigInteger(value.ToString());
            }
            IDictionary dictionary = value as IDictionary;
            if (dictionary != null)
            {
                Dictionary<string, object> map = new Dictionary<string, object>();
                foreach (DictionaryEntry entry in dictionary)
                    map[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)] = Normalize(entry.Value);
                return map;
            }
            IEnumerable sequence = value as IEnumerable;
            if (sequence != null)
            {
                List<object> list = new List<object>();
                foreach (object item in sequence)
                    list.Add(Normalize(item));
                return list;
            }
            return Convert.ToString(value, CultureInfo.InvariantCulture);
        }

        /// <summary>Field-for-field equality of two JSON values (numbers by value, strings ordinal, bools not numbers).</summary>
        public static bool Same(object left, object right)
        {
            return SameNormalized(Normalize(left), Normalize(right));
        }

        private static bool SameNormalized(object left, object right)
        {
            if (left == null || right == null)
                return left == null && right == null;
            if (left is bool || right is bool)
                return left is bool && right is bool && (bool)left == (bool)right;
            string text = left as string;
            if (text != null || right is string)
                return text != null && right is string && String.Equals(text, (string)right, StringComparison.Ordinal);
            if (left is JsonBigInteger || right is JsonBigInteger)
                return left.Equals(right);
            if (left is long || left is decimal || left is double)
            {
                if (!(right is long || right is decimal || right is double))
                    return false;
                if (left is double || right is double)
                    return Convert.ToDouble(left, CultureInfo.InvariantCulture) == Convert.ToDouble(right, CultureInfo.InvariantCulture);
                return Convert.ToDecimal(left, CultureInfo.InvariantCulture) == Convert.ToDecimal(right, CultureInfo.InvariantCulture);
            }
            Dictionary<string, object> leftMap = left as Dictionary<string, object>;
            Dictionary<string, object> rightMap = right as Dictionary<string, object>;
            if (leftMap != null || rightMap != null)
            {
                if (leftMap == null || rightMap == null || leftMap.Count != rightMap.Count)
                    return false;
                foreach (KeyValuePair<string, object> entry in leftMap)
                {
                    object other;
                    if (!rightMap.TryGetValue(entry.Key, out other) || !SameNormalized(entry.Value, other))
                        return false;
                }
                return true;
            }
            List<object> leftList = left as List<object>;
            List<object> rightList = right as List<object>;
            if (leftList == null || rightList == null || leftList.Count != rightList.Count)
                return false;
            for (int i = 0; i < leftList.Count; i++)
                if (!SameNormalized(leftList[i], rightList[i]))
                    return false;
            return true;
        }
    }

    /// <summary>SDDL text that cannot be parsed: the position (0-based) and what was expected there (as _sddl.SddlError).</summary>
    public sealed class SddlError : Exception
    {
        public SddlError(string sddl, int position, string expected)
            : base(Describe(sddl, position, expected))
        {
        }

        private static string Describe(string sddl, int position, string expected)
        {
            string found = position < sddl.Length
                ? PyText.Quoted(sddl.Substring(position, Math.Min(12, sddl.Length - position)))
                : "the end of the text";
            string excerpt = sddl.Length <= 80 ? sddl : sddl.Substring(Math.Max(0, position - 30), Math.Min(sddl.Length, position + 30) - Math.Max(0, position - 30));
            return String.Format(CultureInfo.InvariantCulture, "invalid SDDL at position {0}: expected {1}, found {2} (in {3})",
                position, expected, found, PyText.Quoted(excerpt));
        }
    }

    /// <summary>One ACE, every field as written (extra: a conditional expression or resource attribute, verbatim).</summary>
    public sealed class SddlAce
    {
        public string Type;
        public List<string> Flags;
        public string Rights;
        public string ObjectGuid;
        public string InheritObjectGuid;
        public string Trustee;
        public string Extra;

        public bool Inherited
        {
            get { return Flags.Contains("ID"); }
        }

        public long Mask
        {
            get { return Sddl.RightsMask(Rights); }
        }

        public SddlAce Copy()
        {
            SddlAce copy = (SddlAce)MemberwiseClone();
            copy.Flags = new List<string>(Flags);
            return copy;
        }

        public string Format()
        {
            string text = "(" + Type + ";" + String.Join("", Flags.ToArray()) + ";" + Rights + ";" + ObjectGuid + ";" +
                InheritObjectGuid + ";" + Trustee;
            if (Extra != null)
                text += ";" + Extra;
            return text + ")";
        }
    }

    public sealed class SddlAcl
    {
        public List<string> Flags = new List<string>();
        public List<SddlAce> Aces = new List<SddlAce>();

        public string Format()
        {
            StringBuilder text = new StringBuilder(String.Join("", Flags.ToArray()));
            foreach (SddlAce ace in Aces)
                text.Append(ace.Format());
            return text.ToString();
        }
    }

    /// <summary>Owner, group (trustees as written), DACL, SACL; Order is the order the sections were written in.</summary>
    public sealed class SddlDescriptor
    {
        public string Owner;
        public string Group;
        public SddlAcl Dacl;
        public SddlAcl Sacl;
        public List<string> Order = new List<string>();

        public string Format()
        {
            List<string> order = new List<string>(Order);
            foreach (string name in new string[] { "O", "G", "D", "S" })
                if (!order.Contains(name))
                    order.Add(name);
            StringBuilder text = new StringBuilder();
            foreach (string name in order)
            {
                if (name == "O" && Owner != null)
                    text.Append("O:").Append(Owner);
                else if (name == "G" && Group != null)
                    text.Append("G:").Append(Group);
                else if (name == "D" && Dacl != null)
                    text.Append("D:").Append(Dacl.Format());
                else if (name == "S" && Sacl != null)
                    text.Append("S:").Append(Sacl.Format());
            }
            return text.ToString();
        }
    }

    /// <summary>
    /// SDDL parsing and comparison by meaning: the port of plugins/plugin_utils/_sddl.py (parse_sddl, ace_key,
    /// same_descriptor, writable_key). Reference: "Security Descriptor String Format", "ACE Strings", "SID Strings"
    /// (learn.microsoft.com/windows/win32/secauthz). tests/vectors/descriptors.json runs through both.
    /// </summary>
    public static class Sddl
    {
        public const string TrustedInstallerSid = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";
        public const string SystemSid = "S-1-5-18";
        public const string AdministratorsSid = "S-1-5-32-544";
        public const long FileAllAccess = 0x1F01FF;
        public const long FileReadAndExecute = 0x1200A9;

        private static readonly string[] AceFlagNames = new string[] { "CI", "OI", "NP", "IO", "ID", "SA", "FA", "TP", "CR" };
        private static readonly Regex SidPattern = new Regex(@"\GS-1-(?:0[xX][0-9A-Fa-f]{1,12}|\d+)(?:-\d+)*");
        private static readonly Regex SidFull = new Regex(@"\AS-1-(?:0[xX][0-9A-Fa-f]{1,12}|\d+)(?:-\d+)*\z");
        private static readonly Regex AliasPattern = new Regex(@"\G[A-Z]{2}");
        private static readonly Regex AliasFull = new Regex(@"\A[A-Z]{2}\z");
        private static readonly Regex GuidFull = new Regex(@"\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z");
        private static readonly Regex HexFull = new Regex(@"\A0[xX][0-9A-Fa-f]{1,8}\z");
        private static readonly Regex TypeFull = new Regex(@"\A[A-Z]{1,2}\z");

        private static readonly Dictionary<string, long> RightsLetters = MakeRights();
        private static readonly Dictionary<string, string> Aliases = MakeAliases();
        // Domain-relative aliases (RID only): they resolve only with the domain SID, which is not known here.
        public static readonly string[] DomainAliases = new string[] {
            "AP", "CA", "CN", "DA", "DC", "DD", "DG", "DU", "EA", "EK", "KA", "LA", "LG", "PA", "RO", "RS", "SA" };

        private static Dictionary<string, long> MakeRights()
        {
            Dictionary<string, long> rights = new Dictionary<string, long>();
            string[] names = new string[] {
                "GA", "GR", "GW", "GX", "RC", "SD", "WD", "WO", "CC", "DC", "LC", "SW", "RP", "WP", "DT", "LO", "CR",
                "FA", "FR", "FW", "FX", "KA", "KR", "KW", "KX", "NR", "NW", "NX" };
            long[] masks = new long[] {
                0x10000000, 0x80000000, 0x40000000, 0x20000000, 0x20000, 0x10000, 0x40000, 0x80000,
                0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100,
                0x1F01FF, 0x120089, 0x120116, 0x1200A0, 0xF003F, 0x20019, 0x20006, 0x20019, 0x2, 0x1, 0x4 };
            for (int i = 0; i < names.Length; i++)
                rights.Add(names[i], masks[i]);
            return rights;
        }

        private static Dictionary<string, string> MakeAliases()
        {
            // "SID strings" (learn.microsoft.com/windows/win32/secauthz/sid-strings): alias -> SID.
            string table =
                "AA S-1-5-32-579 AC S-1-15-2-1 AN S-1-5-7 AO S-1-5-32-548 AS S-1-18-1 AU S-1-5-11 BA S-1-5-32-544 " +
                "BG S-1-5-32-546 BO S-1-5-32-551 BU S-1-5-32-545 CD S-1-5-32-574 CG S-1-3-1 CO S-1-3-0 CY S-1-5-32-569 " +
                "ED S-1-5-9 ER S-1-5-32-573 ES S-1-5-32-576 HA S-1-5-32-578 HI S-1-16-12288 IS S-1-5-32-568 IU S-1-5-4 " +
                "LS S-1-5-19 LU S-1-5-32-559 LW S-1-16-4096 ME S-1-16-8192 MP S-1-16-8448 MS S-1-5-32-577 " +
                "MU S-1-5-32-558 NO S-1-5-32-556 NS S-1-5-20 NU S-1-5-2 OW S-1-3-4 PO S-1-5-32-550 PS S-1-5-10 " +
                "PU S-1-5-32-547 RA S-1-5-32-575 RC S-1-5-12 RD S-1-5-32-555 RE S-1-5-32-552 RM S-1-5-32-580 " +
                "RU S-1-5-32-554 SI S-1-16-16384 SO S-1-5-32-549 SS S-1-18-2 SU S-1-5-6 SY S-1-5-18 " +
                "UD S-1-5-84-0-0-0-0-0 WD S-1-1-0 WR S-1-5-33";
            string[] parts = table.Split(' ');
            Dictionary<string, string> aliases = new Dictionary<string, string>();
            for (int i = 0; i < parts.Length; i += 2)
                aliases.Add(parts[i], parts[i + 1]);
            return aliases;
        }

        public static bool IsKnownAlias(string trustee)
        {
            return Aliases.ContainsKey(trustee) || Array.IndexOf(DomainAliases, trustee) >= 0;
        }

        /// <summary>The full SID of a trustee as written (S-1-... upper-cased, or a machine-independent alias); null otherwise.</summary>
        public static string ResolveSid(string trustee)
        {
            if (trustee == null)
                return null;
            if (SidFull.IsMatch(trustee))
                return trustee.ToUpperInvariant();
            string sid;
            return Aliases.TryGetValue(trustee, out sid) ? sid : null;
        }

        public static bool IsSid(string text)
        {
            return SidFull.IsMatch(text);
        }

        public static long RightsMask(string rights)
        {
            if (String.IsNullOrEmpty(rights))
                return 0;
            if (HexFull.IsMatch(rights))
                return Int64.Parse(rights.Substring(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            long mask = 0;
            for (int i = 0; i < rights.Length; i += 2)
            {
                long bits;
                if (i + 2 > rights.Length || !RightsLetters.TryGetValue(rights.Substring(i, 2), out bits))
                    throw new FormatException(String.Format("unknown SDDL rights letters {0} in {1}",
                        PyText.Quoted(rights.Substring(i, Math.Min(2, rights.Length - i))), PyText.Quoted(rights)));
                mask |= bits;
            }
            return mask;
        }

        private static bool AtSection(string text, int position)
        {
            return position + 1 < text.Length && "OGDS".IndexOf(text[position]) >= 0 && text[position + 1] == ':';
        }

        /// <summary>Parse a security descriptor string; SddlError when it is not valid SDDL.</summary>
        public static SddlDescriptor Parse(string text)
        {
            if (text == null)
                throw new SddlError("None", 0, "an SDDL string");
            SddlDescriptor descriptor = new SddlDescriptor();
            int position = 0;
            while (position < text.Length)
            {
                if (!AtSection(text, position))
                    throw new SddlError(text, position, descriptor.Order.Count == 0
                        ? "a section marker (O:, G:, D: or S:)" : "the next section (O:, G:, D:, S:) or the end");
                string section = text[position].ToString();
                if (descriptor.Order.Contains(section))
                    throw new SddlError(text, position, String.Format("each section once ({0}: appears twice)", section));
                position += 2;
                if (section == "O" || section == "G")
                {
                    Match match = SidPattern.Match(text, position);
                    if (!match.Success)
                        match = AliasPattern.Match(text, position);
                    if (!match.Success)
                        throw new SddlError(text, position, "a SID (S-1-...) or a two-letter SID alias");
                    if (section == "O")
                        descriptor.Owner = match.Value;
                    else
                        descriptor.Group = match.Value;
                    position += match.Length;
                }
                else
                {
                    SddlAcl acl = ParseAcl(text, ref position);
                    if (section == "D")
                        descriptor.Dacl = acl;
                    else
                        descriptor.Sacl = acl;
                }
                descriptor.Order.Add(section);
                if (position < text.Length && !AtSection(text, position))
                    throw new SddlError(text, position, "the next section (O:, G:, D:, S:) or the end");
            }
            return descriptor;
        }

        private static SddlAcl ParseAcl(string text, ref int position)
        {
            SddlAcl acl = new SddlAcl();
            while (position < text.Length && text[position] != '(' && !AtSection(text, position))
            {
                bool found = false;
                foreach (string flag in new string[] { "NO_ACCESS_CONTROL", "AI", "AR", "P" })
                {
                    if (String.CompareOrdinal(text, position, flag, 0, flag.Length) == 0)
                    {
                        acl.Flags.Add(flag);
                        position += flag.Length;
                        found = true;
                        break;
                    }
                }
                if (!found)
                    throw new SddlError(text, position, "ACL flags (P, AI, AR, NO_ACCESS_CONTROL), an ACE '(' or the next section");
            }
            while (position < text.Length && text[position] == '(')
                acl.Aces.Add(ParseAce(text, ref position));
            return acl;
        }

        private static string Field(string text, ref int position, int opened)
        {
            int end = position;
            while (end < text.Length && text[end] != ';' && text[end] != ')')
            {
                if (text[end] == '(')
                    throw new SddlError(text, end, String.Format("';' or ')' (ACE opened at position {0})", opened));
                end++;
            }
            if (end >= text.Length)
                throw new SddlError(text, end, String.Format("')' closing the ACE opened at position {0}", opened));
            string value = text.Substring(position, end - position);
            position = end;
            return value;
        }

        private static SddlAce ParseAce(string text, ref int position)
        {
            int opened = position;
            position++;
            string[] names = new string[] { "the ACE type", "ACE flags", "ACE rights", "the object GUID", "the inherited object GUID" };
            string[] values = new string[5];
            int[] starts = new int[5];
            for (int i = 0; i < 5; i++)
            {
                starts[i] = position;
                values[i] = Field(text, ref position, opened);
                if (text[position] != ';')
                    throw new SddlError(text, position, String.Format("';' after {0} (an ACE has 6 fields)", names[i]));
                position++;
            }
            int trusteeAt = position;
            string trustee = Field(text, ref position, opened);
            string extra = null;
            if (text[position] == ';')
            {
                position++;
                extra = Conditional(text, ref position, opened);
            }
            position++;
            if (!TypeFull.IsMatch(values[0]))
                throw new SddlError(text, starts[0], "an ACE type (A, D, AU, OA, ...)");
            if (values[1].Length % 2 != 0)
                throw new SddlError(text, starts[1], "ACE flags in pairs (" + String.Join(", ", AceFlagNames) + ")");
            List<string> flags = new List<string>();
            for (int i = 0; i < values[1].Length; i += 2)
            {
                string flag = values[1].Substring(i, 2);
                if (Array.IndexOf(AceFlagNames, flag) < 0)
                    throw new SddlError(text, starts[1] + i, "an ACE flag (" + String.Join(", ", AceFlagNames) + ")");
                flags.Add(flag);
            }
            string rights = values[2];
            if (rights.Length > 0 && !HexFull.IsMatch(rights))
            {
                if (rights.Length % 2 != 0)
                    throw new SddlError(text, starts[2], "rights as hex (0x...) or letter pairs (FA, CC, RP, ...)");
                for (int i = 0; i < rights.Length; i += 2)
                    if (!RightsLetters.ContainsKey(rights.Substring(i, 2)))
                        throw new SddlError(text, starts[2] + i, "a rights letter pair (GA, GR, RC, CC, FA, ...) or hex 0x...");
            }
            for (int i = 3; i < 5; i++)
                if (values[i].Length > 0 && !GuidFull.IsMatch(values[i]))
                    throw new SddlError(text, starts[i], "an empty field or a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
            if (!(SidFull.IsMatch(trustee) || AliasFull.IsMatch(trustee)))
                throw new SddlError(text, trusteeAt, "a SID (S-1-...) or a two-letter SID alias as the ACE trustee");
            SddlAce ace = new SddlAce();
            ace.Type = values[0];
            ace.Flags = flags;
            ace.Rights = rights;
            ace.ObjectGuid = values[3];
            ace.InheritObjectGuid = values[4];
            ace.Trustee = trustee;
            ace.Extra = extra;
            return ace;
        }

        private static string Conditional(string text, ref int position, int opened)
        {
            int start = position;
            int depth = 0;
            bool quote = false;
            while (position < text.Length)
            {
                char c = text[position];
                if (quote)
                    quote = c != '"';
                else if (c == '"')
                    quote = true;
                else if (c == '(')
                    depth++;
                else if (c == ')')
                {
                    if (depth == 0)
                        return text.Substring(start, position - start);
                    depth--;
                }
                position++;
            }
            throw new SddlError(text, position, String.Format("')' closing the ACE opened at position {0}", opened));
        }

        // ---- comparing by meaning ----------------------------------------------------------------------------------

        public static string TrusteeKey(string trustee)
        {
            if (trustee == null)
                return null;
            string sid = ResolveSid(trustee);
            return sid != null ? sid : trustee.ToUpperInvariant();
        }

        private static void AddKeyPart(StringBuilder key, string part)
        {
            if (part == null)
                key.Append("-;");
            else
                key.Append(part.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(part).Append(';');
        }

        /// <summary>A set of ACE or ACL flags as one comparable text (the order and repeats do not count).</summary>
        internal static string FlagSet(IEnumerable<string> flags)
        {
            List<string> distinct = new List<string>();
            foreach (string flag in flags)
                if (!distinct.Contains(flag))
                    distinct.Add(flag);
            distinct.Sort(StringComparer.Ordinal);
            return String.Join(",", distinct.ToArray());
        }

        /// <summary>What makes two ACEs the same: type, the set of flags, the numeric mask, GUIDs, the SID.</summary>
        public static string AceKey(SddlAce ace)
        {
            StringBuilder key = new StringBuilder();
            AddKeyPart(key, ace.Type);
            AddKeyPart(key, FlagSet(ace.Flags));
            AddKeyPart(key, ace.Mask.ToString(CultureInfo.InvariantCulture));
            AddKeyPart(key, ace.ObjectGuid.ToLowerInvariant());
            AddKeyPart(key, ace.InheritObjectGuid.ToLowerInvariant());
            AddKeyPart(key, TrusteeKey(ace.Trustee));
            AddKeyPart(key, ace.Extra);
            return key.ToString();
        }

        private static string AclKey(SddlAcl acl)
        {
            if (acl == null)
                return null;
            StringBuilder key = new StringBuilder();
            AddKeyPart(key, FlagSet(acl.Flags));
            foreach (SddlAce ace in acl.Aces)
                AddKeyPart(key, AceKey(ace));
            return key.ToString();
        }

        /// <summary>descriptor_key: equal for two SDDL strings exactly when they describe the same sections.</summary>
        public static string DescriptorKey(string sddl, string sections)
        {
            SddlDescriptor descriptor = Parse(sddl);
            StringBuilder key = new StringBuilder();
            foreach (char section in "OGDS")
            {
                if (sections.IndexOf(section) < 0)
                    continue;
                key.Append(section);
                if (section == 'O')
                    AddKeyPart(key, TrusteeKey(descriptor.Owner));
                else if (section == 'G')
                    AddKeyPart(key, TrusteeKey(descriptor.Group));
                else if (section == 'D')
                    AddKeyPart(key, AclKey(descriptor.Dacl));
                else
                    AddKeyPart(key, AclKey(descriptor.Sacl));
            }
            return key.ToString();
        }

        /// <summary>same_descriptor: both parse and describe the same sections (false when either cannot be parsed).</summary>
        public static bool SameDescriptor(string left, string right, string sections)
        {
            return SameKey(left, right, delegate(string sddl) { return DescriptorKey(sddl, sections); });
        }

        // Both null, or both parse to the same key.
        private static bool SameKey(string left, string right, Converter<string, string> key)
        {
            if (left == null || right == null)
                return left == null && right == null;
            try
            {
                return key(left) == key(right);
            }
            catch (SddlError)
            {
                return false;
            }
            catch (FormatException)
            {
                return false;
            }
        }

        public static bool SameDescriptor(string left, string right)
        {
            return SameDescriptor(left, right, "OGDS");
        }

        /// <summary>writable_key: the owner, whether the DACL is protected, the explicit ACEs in order.</summary>
        public static string WritableKey(string sddl)
        {
            SddlDescriptor descriptor = Parse(sddl);
            StringBuilder key = new StringBuilder();
            AddKeyPart(key, TrusteeKey(descriptor.Owner));
            if (descriptor.Dacl == null)
            {
                key.Append("no-dacl");
                return key.ToString();
            }
            key.Append(descriptor.Dacl.Flags.Contains("P") ? "P" : "-");
            if (descriptor.Dacl.Flags.Contains("NO_ACCESS_CONTROL"))
            {
                key.Append("NULL");  // everyone, everything: not an empty DACL
                return key.ToString();
            }
            foreach (SddlAce ace in descriptor.Dacl.Aces)
                if (!ace.Inherited)
                    AddKeyPart(key, AceKey(ace));
            return key.ToString();
        }

        /// <summary>same_writable_part: both parse and set the same owner, DACL protection and explicit ACEs.</summary>
        public static bool SameWritablePart(string left, string right)
        {
            return SameKey(left, right, WritableKey);
        }

        /// <summary>
        /// What path_security writes for a descriptor: "O:owner" (when it has one), "D:" with P when protected, and the
        /// explicit ACEs in the order given. Inherited ACEs are left out: Windows computes them from the parent.
        /// </summary>
        public static string WritablePart(string sddl)
        {
            SddlDescriptor descriptor = Parse(sddl);
            StringBuilder text = new StringBuilder();
            if (descriptor.Owner != null)
                text.Append("O:").Append(descriptor.Owner);
            if (descriptor.Dacl != null)
            {
                text.Append("D:");
                if (descriptor.Dacl.Flags.Contains("P"))
                    text.Append('P');
                if (descriptor.Dacl.Flags.Contains("NO_ACCESS_CONTROL"))
                    return text.Append("NO_ACCESS_CONTROL").ToString();  // a NULL DACL stays NULL (never an empty one)
                foreach (SddlAce ace in descriptor.Dacl.Aces)
                    if (!ace.Inherited)
                        text.Append(ace.Format());
            }
            return text.ToString();
        }

        /// <summary>The O: and D: sections of a descriptor (owner_and_dacl), as written.</summary>
        public static string OwnerAndDacl(string sddl)
        {
            SddlDescriptor descriptor = Parse(sddl);
            SddlDescriptor part = new SddlDescriptor();
            part.Owner = descriptor.Owner;
            part.Dacl = descriptor.Dacl;
            return part.Format();
        }

        /// <summary>The DACL alone ("D:..."), what a service's descriptor write sets.</summary>
        public static string DaclPart(string sddl)
        {
            SddlDescriptor descriptor = Parse(sddl);
            return descriptor.Dacl == null ? "" : "D:" + descriptor.Dacl.Format();
        }
    }

    /// <summary>
    /// What may be written, whatever the engine is given: the semantic allow-list of docs/write-path.md section 2, the
    /// port of plugins/plugin_utils/_allowlist.py (same decisions and messages; tests/vectors/allowlist.json and
    /// tests/vectors/same_command.json run through both).
    /// </summary>
    public static class AllowList
    {
        public const string Outside = "outside what this collection may change";
        public const string ServicesKey = "HKLM\\SYSTEM\\CurrentControlSet\\Services";
        public const string SystemWriterKey = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter";
        public const string VssAccessControlKey = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl";
        public const string CryptSvc = "CryptSvc";
        public const string ExcludedBinaryPaths = "ExcludedBinaryPaths";  // KB 980794
        public const int MaxPathCharacters = 32767;  // "Maximum Path Length Limitation" (Microsoft docs)
        public const int MaxExclusionEntries = 4096;
        public const string WriterAce = "(A;;CCLCSWLOCRRC;;;SU)";  // KB 3209092
        // KB 2009272 names the value "NT AUTHORITY\NETWORK SERVICE"; real systems carry "NT Authority\NetworkService".
        public static readonly string[] NetworkServiceValueNames = new string[] { "NT AUTHORITY\\NETWORK SERVICE", "NT Authority\\NetworkService" };

        private static readonly Regex DomainAdmins = new Regex(@"\AS-1-5-21-\d+-\d+-\d+-512\z");
        private static readonly Regex SystemRootRun = new Regex(@"\A(?:\\+systemroot(?=\\))+\\");
        // An environment variable (%name%) inside an exclusion entry; a lone % (50%off) is a character of a name.
        private static readonly Regex Variable = new Regex(@"%[^%\\]+%");

        // ---- keys ------------------------------------------------------------------------------------------------

        /// <summary>normalise_key: HKEY_LOCAL_MACHINE\System\... -> HKLM\System\... (case kept; no trailing \).</summary>
        public static string NormaliseKey(string key)
        {
            string[] parts = key.Replace('/', '\\').Split('\\');
            string hive = PyText.Lower(parts[0]);
            if (hive != "hkey_local_machine" && hive != "hklm" && hive != "hklm:")
                return key;
            StringBuilder normal = new StringBuilder("HKLM");
            for (int i = 1; i < parts.Length; i++)
                normal.Append('\\').Append(parts[i]);
            return normal.ToString().TrimEnd('\\');
        }

        /// <summary>_SERVICE_NAME = ^[^\\/\x00]{1,256}$ (Python's $ also matches before a final newline).</summary>
        public static bool IsServiceName(string name)
        {
            if (name.IndexOf('\\') >= 0 || name.IndexOf('/') >= 0 || name.IndexOf('\0') >= 0)
                return false;
            int length = PyText.Length(name);
            if (length >= 1 && length <= 256)
                return true;
            return name.EndsWith("\n") && length - 1 >= 1 && length - 1 <= 256;
        }

        // ---- same command (ImagePath) ----------------------------------------------------------------------------

        private static bool Split(string value, bool driver, out string executable, out string arguments)
        {
            executable = null;
            arguments = "";
            if (driver)
            {
                if (value.Length >= 2 && value[0] == '"' && value[value.Length - 1] == '"')
                    value = value.Substring(1, value.Length - 2);
                if (value.IndexOf('"') >= 0)
                    return false;
                executable = value;
                return true;
            }
            if (value.StartsWith("\""))
            {
                int close = value.IndexOf('"', 1);
                if (close < 0)
                {
                    executable = value.Substring(1);
                    return true;
                }
                if (close + 1 < value.Length && value[close + 1] != ' ' && value[close + 1] != '\t')
                    return false;  // "C:\a.exe".d\x.exe: the quote does not end the executable
                executable = value.Substring(1, close - 1);
                arguments = value.Substring(close + 1);
                return true;
            }
            int found = PyText.LowerPath(value).IndexOf(".exe", StringComparison.Ordinal);
            if (found >= 0)
            {
                if (found + 4 < value.Length && value[found + 4] != ' ' && value[found + 4] != '\t')
                    return false;  // C:\a.exe.d\x.exe: '.exe' inside a folder name
                executable = value.Substring(0, found + 4);
                arguments = value.Substring(found + 4);
                return true;
            }
            for (int i = 0; i < value.Length; i++)
            {
                if (value[i] == ' ' || value[i] == '\t')
                {
                    executable = value.Substring(0, i);
                    arguments = value.Substring(i);
                    return true;
                }
            }
            executable = value;
            return true;
        }

        private static string ReducePath(string path, bool driver, string systemRoot)
        {
            if (path.IndexOf('"') >= 0)
                return null;
            string low = PyText.LowerPath(path.Replace('/', '\\'));
            string rootLow = String.IsNullOrEmpty(systemRoot) ? null : PyText.LowerPath(systemRoot.TrimEnd('\\')) + "\\";
            bool ntPath = driver;
            if (low.StartsWith("\\??\\", StringComparison.Ordinal) && PyText.StartsWithDrive(low.Substring(4)))
            {
                low = low.Substring(4);
                ntPath = true;
            }
            // A driver path and a \??\ path are opened as NT paths, which do not resolve '.' or '..' (only the Win32
            // path conversion does): such a value names no file that loads, and no spelling is the same command.
            if (ntPath && HasDotSegment(low))
                return null;
            if (PyText.StartsWithDrive(low))
            {
                // '.' and '..' first, so that C:\Windows\..\x.exe is the file C:\x.exe before the system root is recognised
                List<string> below = Segments(low.Substring(3));
                if (below == null)
                    return null;
                low = low.Substring(0, 3) + String.Join("\\", below.ToArray());
            }
            string root;
            string rest;
            Match prefix = SystemRootRun.Match(low);
            if (prefix.Success)
            {
                root = "%systemroot%\\";
                rest = low.Substring(prefix.Length);
            }
            else if (low.StartsWith("%systemroot%\\", StringComparison.Ordinal) || low.StartsWith("%windir%\\", StringComparison.Ordinal))
            {
                root = "%systemroot%\\";
                rest = low.Substring(low.IndexOf('\\') + 1);
            }
            else if (rootLow != null && low.StartsWith(rootLow, StringComparison.Ordinal))
            {
                root = "%systemroot%\\";
                rest = low.Substring(rootLow.Length);
            }
            else if (PyText.StartsWithDrive(low))
            {
                root = low.Substring(0, 3);
                rest = low.Substring(3);
            }
            else if (low.StartsWith("\\", StringComparison.Ordinal) || low.IndexOf(':') >= 0)
            {
                return null;  // UNC, \Device\..., \??\ without a drive, a colon elsewhere: never compared
            }
            else if (driver)
            {
                root = "%systemroot%\\";  // a driver path without a root is relative to %SystemRoot%
                rest = low;
            }
            else
            {
                root = "";
                rest = low;
            }
            List<string> kept = Segments(rest);
            if (kept == null || kept.Count == 0)
                return null;
            return root + String.Join("\\", kept.ToArray());
        }

        private static bool HasDotSegment(string path)
        {
            foreach (string segment in path.Split('\\'))
            {
                if (segment == "." || segment == "..")
                    return true;
            }
            return false;
        }

        // The segments of a relative path with '.' and '..' resolved; null when a '..' climbs above its start.
        private static List<string> Segments(string rest)
        {
            List<string> kept = new List<string>();
            foreach (string segment in rest.Split('\\'))
            {
                if (segment.Length == 0 || segment == ".")
                    continue;
                if (segment == "..")
                {
                    if (kept.Count == 0)
                        return null;
                    kept.RemoveAt(kept.Count - 1);
                    continue;
                }
                kept.Add(segment);
            }
            return kept;
        }

        /// <summary>command_of: (reduced executable, arguments as written) joined by NUL, or null when not reducible.</summary>
        public static string CommandOf(string value, bool driver, string systemRoot)
        {
            int nul = value.IndexOf('\0');
            if (nul >= 0)
                value = value.Substring(0, nul);  // systeminformer#111: what follows a NUL is not part of the command
            string executable;
            string arguments;
            if (!Split(value, driver, out executable, out arguments))
                return null;
            string reduced = ReducePath(executable, driver, systemRoot);
            return reduced == null ? null : reduced + "\0" + arguments;
        }

        public static bool SameCommand(string left, string right, bool driver, string systemRoot)
        {
            // The same text up to the first NUL is the same command, whatever the path (truncation at a NUL).
            if (String.Equals(BeforeNul(left), BeforeNul(right), StringComparison.Ordinal))
                return true;
            string a = CommandOf(left, driver, systemRoot);
            string b = CommandOf(right, driver, systemRoot);
            return a != null && String.Equals(a, b, StringComparison.Ordinal);
        }

        private static string BeforeNul(string value)
        {
            int nul = value.IndexOf('\0');
            return nul < 0 ? value : value.Substring(0, nul);
        }

        private static string Kind(IDictionary value)
        {
            return value.Contains("kind") ? value["kind"] as string : null;
        }

        // _allowlist._quoted: the value, up to its first NUL, starts with a quote.
        private static bool Quoted(string value)
        {
            return BeforeNul(value).StartsWith("\"", StringComparison.Ordinal);
        }

        /// <summary>
        /// imagepath_problem: both string values of the same kind, the same command, and outside a rollback only in the
        /// direction of the brain's fixes (docs/write-path.md section 2).
        /// </summary>
        public static string ImagePathProblem(IDictionary expect, IDictionary set, bool driver, string systemRoot, bool rollback)
        {
            foreach (IDictionary value in new IDictionary[] { expect, set })
            {
                string kind = Kind(value);
                if (kind != "REG_SZ" && kind != "REG_EXPAND_SZ")
                    return "ImagePath is only rewritten between string values (REG_SZ, REG_EXPAND_SZ), not " +
                        (value.Contains("kind") ? FormatValue(value["kind"]) : "None");
            }
            if (Kind(expect) != Kind(set))
                return String.Format("ImagePath keeps its kind ({0}), it is not changed to {1}", Kind(expect), Kind(set));
            if (!SameCommand((string)expect["data"], (string)set["data"], driver, systemRoot))
                return String.Format("{0} does not run the same command as {1} (only quoting, prefix normalisation and truncation at a NUL are made)",
                    PyText.Shown(set["data"]), PyText.Shown(expect["data"]));
            if (rollback)
                return null;
            string before = (string)expect["data"];
            string after = (string)set["data"];
            if (!driver && Quoted(before) && !Quoted(after))
                return "the quotes of a Win32 executable are only added (CreateService doc), never removed outside a rollback";
            if (driver && !Quoted(before) && Quoted(after))
                return "the quotes of a driver path are only removed (mullvad/windows-service-rs#57), never added outside a rollback";
            if (before.IndexOf('\0') < 0 && after.IndexOf('\0') >= 0)
                return "nothing is added after a NUL outside a rollback (systeminformer#111: what follows it is truncated)";
            return null;
        }

        // ---- ExcludedBinaryPaths and VssAccessControl --------------------------------------------------------------

        private static List<string> Entries(IDictionary value)
        {
            string kind = Kind(value);
            object data = value.Contains("data") ? value["data"] : null;
            if (kind == "REG_MULTI_SZ" && data is IList && !(data is string))
            {
                List<string> entries = new List<string>();
                foreach (object item in (IList)data)
                    entries.Add(item as string);
                return entries;
            }
            if ((kind == "REG_SZ" || kind == "REG_EXPAND_SZ") && data is string)
            {
                List<string> entries = new List<string>();
                if (((string)data).Length > 0)
                    entries.Add((string)data);
                return entries;
            }
            if (kind == "missing")
                return new List<string>();
            return null;
        }

        public static string ExclusionEntryProblem(string entry)
        {
            int length = PyText.Length(entry);
            if (length < 1 || length > MaxPathCharacters)
                return String.Format(CultureInfo.InvariantCulture, "an entry must be 1 to {0} characters long, not {1}", MaxPathCharacters, length);
            if (!PyText.StartsWithDrive(entry))
                return String.Format("{0} is not an absolute drive path (X:\\...)", PyText.Quoted(entry, 80));
            if (Variable.IsMatch(entry))
                return String.Format("{0} holds an environment variable (KB 980794: absolute paths without variables)", PyText.Quoted(entry, 80));
            foreach (char c in entry)
                if (c < ' ' || "\"*?<>|/".IndexOf(c) >= 0)
                    return String.Format("{0} holds a control character or one of \" * ? < > | /", PyText.Quoted(entry, 80));
            return null;
        }

        public static string ExclusionsProblem(IDictionary expect, IDictionary set, bool rollback)
        {
            string kind = Kind(set);
            if (kind != "REG_MULTI_SZ" && kind != "missing")
            {
                if (rollback && Entries(set) != null)
                    return null;
                return String.Format("{0} is written as REG_MULTI_SZ, not {1}", ExcludedBinaryPaths,
                    set.Contains("kind") ? FormatValue(set["kind"]) : "None");
            }
            List<string> entries = Entries(set);
            if (entries == null)
                entries = new List<string>();
            if (entries.Count > MaxExclusionEntries)
                return String.Format(CultureInfo.InvariantCulture, "{0} entries, more than the {1} allowed", entries.Count, MaxExclusionEntries);
            if (rollback)
                return null;
            HashSet<string> before = new HashSet<string>(StringComparer.Ordinal);
            List<string> old = Entries(expect);
            if (old != null)
                foreach (string entry in old)
                    before.Add(PyText.LowerPath(entry));
            foreach (string entry in entries)
            {
                if (before.Contains(PyText.LowerPath(entry)))
                    continue;
                string problem = ExclusionEntryProblem(entry);
                if (problem != null)
                    return problem;
            }
            return null;
        }

        // f"{x}" of a JSON value: str() (a string as it is), other values as repr().
        private static string FormatValue(object value)
        {
            string text = value as string;
            return text != null ? text : PyText.Repr(value);
        }

        public static string VssAccessProblem(string name, IDictionary set, bool rollback)
        {
            bool known = false;
            foreach (string allowed in NetworkServiceValueNames)
                if (PyText.Lower(name) == PyText.Lower(allowed))
                    known = true;
            if (!known)
                return String.Format("only the NETWORK SERVICE value may be written under VssAccessControl, not {0}", PyText.Quoted(name));
            if (rollback)
                return null;
            decimal data;
            object value = set.Contains("data") ? set["data"] : null;
            if (Kind(set) != "REG_DWORD" || !PyText.TryInteger(value, out data) || data != 1)
                return String.Format("the NETWORK SERVICE value is only set to REG_DWORD 1 (allowed, KB 2009272), not {0}", PyText.Shown(set));
            return null;
        }

        // ---- descriptors -----------------------------------------------------------------------------------------

        private static string Unparsable(Exception error)
        {
            return "the descriptor cannot be parsed: " + error.Message;
        }

        /// <summary>KB 3209092: a service descriptor may only gain or lose the writer's query ACE; all else stays.</summary>
        public static string ServiceDescriptorProblem(string expect, string set)
        {
            if (expect == "default" || set == "default")
                return "the SCM default descriptor is never written";
            SddlDescriptor before;
            SddlDescriptor after;
            string writer;
            try
            {
                before = Sddl.Parse(expect);
                after = Sddl.Parse(set);
                writer = Sddl.AceKey(Sddl.Parse("D:" + WriterAce).Dacl.Aces[0]);
            }
            catch (SddlError error)
            {
                return Unparsable(error);
            }
            catch (FormatException error)
            {
                return Unparsable(error);
            }
            string[] names = new string[] { "owner", "group" };
            string[][] pairs = new string[][] { new string[] { before.Owner, after.Owner }, new string[] { before.Group, after.Group } };
            for (int i = 0; i < 2; i++)
            {
                string left = pairs[i][0];
                string right = pairs[i][1];
                string leftSid = String.IsNullOrEmpty(left) ? null : Sddl.ResolveSid(left);
                string rightSid = String.IsNullOrEmpty(right) ? null : Sddl.ResolveSid(right);
                if (leftSid != rightSid || (left == null) != (right == null))
                    return String.Format("the {0} would change", names[i]);
            }
            if (before.Dacl == null || after.Dacl == null || Sddl.FlagSet(before.Dacl.Flags) != Sddl.FlagSet(after.Dacl.Flags))
                return "the DACL is only changed by one ACE";
            List<string> old = AceKeys(before.Dacl);
            List<string> added = AceKeys(after.Dacl);
            List<string> longer = added.Count > old.Count ? added : old;
            List<string> shorter = added.Count > old.Count ? old : added;
            string onlyWriter = "the DACL may only gain or lose the System Writer's ACE " + WriterAce;
            if (longer.Count != shorter.Count + 1)
                return onlyWriter;
            bool found = false;
            for (int index = 0; index < longer.Count && !found; index++)
            {
                if (longer[index] != writer)
                    continue;
                List<string> without = new List<string>(longer);
                without.RemoveAt(index);
                found = SameList(without, shorter);
            }
            if (!found)
                return onlyWriter;
            bool sameSacl = (before.Sacl == null) == (after.Sacl == null) &&
                (before.Sacl == null || (SameList(AceKeys(before.Sacl), AceKeys(after.Sacl)) && Sddl.FlagSet(before.Sacl.Flags) == Sddl.FlagSet(after.Sacl.Flags)));
            return sameSacl ? null : "the SACL would change";
        }

        private static List<string> AceKeys(SddlAcl acl)
        {
            List<string> keys = new List<string>();
            foreach (SddlAce ace in acl.Aces)
                keys.Add(Sddl.AceKey(ace));
            return keys;
        }

        private static bool SameList(List<string> left, List<string> right)
        {
            if (left.Count != right.Count)
                return false;
            for (int i = 0; i < left.Count; i++)
                if (left[i] != right[i])
                    return false;
            return true;
        }

        public static bool IsAdministrative(string sid)
        {
            return sid != null && (sid == Sddl.SystemSid || sid == Sddl.AdministratorsSid || sid == Sddl.TrustedInstallerSid ||
                DomainAdmins.IsMatch(sid));
        }

        private static readonly string[] AllowTypes = new string[] { "A", "OA", "XA", "ZA" };   // _sddl.ALLOW_TYPES
        private static readonly string[] DenyTypes = new string[] { "D", "OD", "XD" };          // _sddl.DENY_TYPES
        // KB 2009272: the principals whose deny ACEs the filemaps fix removes (SYSTEM, Administrators, Users, TrustedInstaller).
        private static readonly string[] PolicyPrincipals = new string[] { Sddl.SystemSid, Sddl.AdministratorsSid, "S-1-5-32-545", Sddl.TrustedInstallerSid };

        public static bool IsAllow(SddlAce ace)
        {
            return Array.IndexOf(AllowTypes, ace.Type) >= 0;
        }

        public static bool IsDeny(SddlAce ace)
        {
            return Array.IndexOf(DenyTypes, ace.Type) >= 0;
        }

        // _same_grantee: the same ACE but for its rights (type, set of flags, GUIDs, SID, extra).
        private static bool SameGrantee(SddlAce a, SddlAce b)
        {
            return a.Type == b.Type && Sddl.FlagSet(a.Flags) == Sddl.FlagSet(b.Flags) &&
                PyText.Lower(a.ObjectGuid) == PyText.Lower(b.ObjectGuid) &&
                PyText.Lower(a.InheritObjectGuid) == PyText.Lower(b.InheritObjectGuid) &&
                Sddl.ResolveSid(a.Trustee) == Sddl.ResolveSid(b.Trustee) && a.Extra == b.Extra;
        }

        private static bool AnySameGrantee(SddlAce ace, IEnumerable<SddlAce> others)
        {
            foreach (SddlAce other in others)
                if (SameGrantee(ace, other))
                    return true;
            return false;
        }

        // Why an ACE of expect that is not in set may not be dropped (only the policy principals' deny ACEs are), or null.
        private static string DroppedProblem(SddlAce dropped)
        {
            if (IsDeny(dropped) && Array.IndexOf(PolicyPrincipals, Sddl.ResolveSid(dropped.Trustee)) >= 0)
                return null;
            if (IsDeny(dropped))
                return "only deny ACEs of SYSTEM, Administrators, Users or TrustedInstaller are removed, not " + dropped.Format();
            return "an allow ACE is never removed outside a rollback: " + dropped.Format();
        }

        /// <summary>
        /// _ace_changes_problem: the explicit ACEs after come from those before by removing deny ACEs of the policy's
        /// principals, widening allow ACEs in place and inserting allow ACEs, the rest in their order; what an allow
        /// ACE gains stays under its ceiling (full control for the administrative principals, read &amp; execute else).
        /// </summary>
        private static string AceChangesProblem(List<SddlAce> before, List<SddlAce> after)
        {
            int position = 0;
            foreach (SddlAce ace in after)
            {
                while (position < before.Count && !SameGrantee(before[position], ace))
                {
                    SddlAce dropped = before[position];
                    if (AnySameGrantee(dropped, after))
                        return "the ACEs that stay must stay in their order";
                    string problem = DroppedProblem(dropped);
                    if (problem != null)
                        return problem;
                    position++;
                }
                long gained;
                if (position < before.Count)
                {
                    SddlAce kept = before[position];
                    position++;
                    gained = ace.Mask & ~kept.Mask;
                    if (IsDeny(ace) && ace.Mask != kept.Mask)
                        return String.Format("a deny ACE is not changed: {0} -> {1}", kept.Format(), ace.Format());
                }
                else
                {
                    if (IsDeny(ace))
                    {
                        if (AnySameGrantee(ace, before))
                            return "the ACEs that stay must stay in their order";
                        continue;  // a deny added takes rights away: never dangerous
                    }
                    gained = ace.Mask;
                }
                if (IsAllow(ace) && gained != 0)
                {
                    bool administrative = IsAdministrative(Sddl.ResolveSid(ace.Trustee));
                    long ceiling = administrative ? Sddl.FileAllAccess : Sddl.FileReadAndExecute;
                    if ((gained & ~ceiling) != 0)
                        return String.Format("{0} would grant more than {1}", ace.Format(), administrative ? "full control" : "read & execute");
                }
            }
            for (; position < before.Count; position++)
            {
                string problem = DroppedProblem(before[position]);
                if (problem != null)
                    return problem;
            }
            return null;
        }

        private static bool IsNullDacl(SddlAcl acl)
        {
            return acl != null && acl.Flags.Contains("NO_ACCESS_CONTROL");
        }

        private static List<SddlAce> Explicit(SddlAcl acl)
        {
            List<SddlAce> aces = new List<SddlAce>();
            if (acl != null && !IsNullDacl(acl))
                foreach (SddlAce ace in acl.Aces)
                    if (!ace.Inherited)
                        aces.Add(ace);
            return aces;
        }

        /// <summary>
        /// path_descriptor_problem (filemaps / PendingRenames): never a NULL DACL; outside a rollback an administrative
        /// owner, allow and deny ACEs only, and only the changes the filemaps fix makes (KB 2009272).
        /// </summary>
        public static string PathDescriptorProblem(string expect, string set, bool rollback)
        {
            SddlDescriptor before;
            SddlDescriptor after;
            try
            {
                before = Sddl.Parse(expect);
                after = Sddl.Parse(set);
            }
            catch (SddlError error)
            {
                return Unparsable(error);
            }
            if (after.Dacl == null || IsNullDacl(after.Dacl))
                return "a descriptor without a DACL or with a NULL DACL (everyone may do everything) is never written";
            if (rollback)
                return null;
            foreach (SddlAce ace in after.Dacl.Aces)
                if (ace.Type != "A" && ace.Type != "D")
                    return "only allow and deny ACEs are written, not " + ace.Format();
            string owner = String.IsNullOrEmpty(after.Owner) ? null : Sddl.ResolveSid(after.Owner);
            string oldOwner = String.IsNullOrEmpty(before.Owner) ? null : Sddl.ResolveSid(before.Owner);
            if (owner != oldOwner && !IsAdministrative(owner))
                return "the owner may only become SYSTEM, Administrators, TrustedInstaller or Domain Admins, not " +
                    (after.Owner == null ? "None" : after.Owner);
            return AceChangesProblem(Explicit(before.Dacl), Explicit(after.Dacl));
        }

        // ---- the allow-list --------------------------------------------------------------------------------------

        /// <summary>The folders whose security may be changed (filemaps and PendingRenames), lower-cased.</summary>
        public static string[] AllowedFolders(string systemRoot)
        {
            string root = systemRoot.TrimEnd('\\');
            return new string[] { PyText.Lower(root + "\\winsxs\\filemaps"), PyText.Lower(root + "\\winsxs\\temp\\PendingRenames") };
        }

        // The self-test sandbox (docs/selftest.md): one folder per run, directly under <system drive>\ProgramData\
        // backupready-selftest (beside the store's backupready folder, which holds backup stores only), in ASCII only (a
        // look-alike such as the Kelvin sign lower-cases to "k" in Python but is another name on Windows), so "..", "\\?\",
        // "/", another drive, a short name, a deeper path or a sibling "backupready-selftest-evil" are refused.
        // BackupEngine.SandboxProblem also refuses a sandbox whose parents are links or not SYSTEM's and Administrators' alone.
        public const string SelftestFolder = "ProgramData\\backupready-selftest";
        public const string SelftestServicePrefix = "backupready-selftest-";
        private static readonly Regex RunId = new Regex(@"\A[0-9A-Za-z]{8,32}\z");

        private static bool IsAscii(string text)
        {
            foreach (char c in text)
                if (c > 0x7f)
                    return false;
            return true;
        }

        /// <summary>selftest_root: &lt;system drive&gt;\ProgramData\backupready-selftest, or null when the system root has no drive.</summary>
        public static string SelftestRoot(string systemRoot)
        {
            if (systemRoot == null || !IsAscii(systemRoot) || systemRoot.Length < 3 || systemRoot[1] != ':' || systemRoot[2] != '\\' ||
                !((systemRoot[0] >= 'a' && systemRoot[0] <= 'z') || (systemRoot[0] >= 'A' && systemRoot[0] <= 'Z')))
                return null;
            return systemRoot.Substring(0, 2) + "\\" + SelftestFolder;
        }

        /// <summary>selftest_run_id: the run id when path is exactly a self-test sandbox folder of this host, else null.</summary>
        public static string SelftestRunId(string path, string systemRoot)
        {
            string root = SelftestRoot(systemRoot);
            if (root == null || path == null || !IsAscii(path))
                return null;
            string trimmed = path.TrimEnd('\\');
            string prefix = root + "\\";
            if (trimmed.Length < prefix.Length || trimmed.Substring(0, prefix.Length).ToLowerInvariant() != prefix.ToLowerInvariant())
                return null;
            string runId = trimmed.Substring(prefix.Length);
            return RunId.IsMatch(runId) ? runId : null;
        }

        private static string Where(IDictionary op, string systemRoot)
        {
            string kind = (string)op["op"];
            if (kind == "registry_value")
            {
                string key = NormaliseKey((string)op["key"]);
                string lowered = PyText.Lower(key);
                string name = (string)op["name"];
                if (lowered == PyText.Lower(SystemWriterKey))
                    return PyText.Lower(name) == PyText.Lower(ExcludedBinaryPaths) ? null :
                        String.Format("only {0} may be written under the SystemWriter key, not {1}", ExcludedBinaryPaths, PyText.Quoted(name));
                if (lowered == PyText.Lower(VssAccessControlKey))
                    return null;
                string prefix = PyText.Lower(ServicesKey) + "\\";
                if (lowered.StartsWith(prefix, StringComparison.Ordinal))
                {
                    string service = ServiceOfKey(key);
                    if (service.IndexOf('\\') >= 0 || !IsServiceName(service))
                        return String.Format("key {0} is not a service key", PyText.Quoted((string)op["key"]));
                    if (PyText.Lower(name) != "imagepath")
                        return String.Format("only ImagePath may be written under a service key, not {0}", PyText.Quoted(name));
                    return null;
                }
                return String.Format("registry key {0} is outside the allow-list", PyText.Quoted((string)op["key"]));
            }
            if (kind == "service_start_mode" || kind == "service_state")
            {
                if (PyText.Lower((string)op["service"]) != PyText.Lower(CryptSvc))
                    return String.Format("service {0}: only {1} may be reconfigured, started or restarted", PyText.Quoted((string)op["service"]), CryptSvc);
                return null;
            }
            if (kind == "path_security")
            {
                if (Array.IndexOf(AllowedFolders(systemRoot), PyText.Lower(((string)op["path"]).TrimEnd('\\'))) < 0 &&
                        SelftestRunId((string)op["path"], systemRoot) == null)
                    return String.Format("path {0} is outside the allow-list (filemaps, PendingRenames and the self-test sandbox " +
                        "<system drive>\\{1}\\<run id> only)", PyText.Quoted((string)op["path"]), SelftestFolder);
                return null;
            }
            if (kind == "service_security")
            {
                if (!IsServiceName((string)op["service"]))
                    return String.Format("service name {0} is not valid", PyText.Quoted((string)op["service"]));
                return null;
            }
            return String.Format("unknown op {0}", PyText.Quoted(kind));
        }

        /// <summary>The service part of a normalised Services\&lt;name&gt;... key (everything after Services\).</summary>
        public static string ServiceOfKey(string normalisedKey)
        {
            return normalisedKey.Substring(ServicesKey.Length + 1);
        }

        /// <summary>
        /// Why the value op writes is outside the allow-list. serviceType: the Type of the service an ImagePath op
        /// addresses, null when the service is not found (the compare-and-swap then refuses it as such).
        /// </summary>
        private static string What(IDictionary op, string systemRoot, long? serviceType, bool rollback)
        {
            string kind = (string)op["op"];
            if (kind == "registry_value")
            {
                string lowered = PyText.Lower(NormaliseKey((string)op["key"]));
                if (lowered == PyText.Lower(SystemWriterKey))
                    return ExclusionsProblem((IDictionary)op["expect"], (IDictionary)op["set"], rollback);
                if (lowered == PyText.Lower(VssAccessControlKey))
                    return VssAccessProblem((string)op["name"], (IDictionary)op["set"], rollback);
                if (serviceType == null)
                    return null;
                bool driver = (serviceType.Value & 0xB) != 0;  // SERVICE_DRIVER (winnt.h): what the System Writer enumerates as drivers
                return ImagePathProblem((IDictionary)op["expect"], (IDictionary)op["set"], driver, systemRoot, rollback);
            }
            if (kind == "service_security")
                return ServiceDescriptorProblem((string)op["expect"], (string)op["set"]);
            if (kind == "path_security")
                return PathDescriptorProblem((string)op["expect"], (string)op["set"], rollback);
            return null;
        }

        /// <summary>"outside what this collection may change: &lt;why&gt;" for a well-formed op, or null when it is allowed.</summary>
        public static string Refusal(IDictionary op, string systemRoot, long? serviceType, bool rollback)
        {
            string why = Where(op, systemRoot);
            if (why == null)
                why = What(op, systemRoot, serviceType, rollback);
            return why == null ? null : Outside + ": " + why;
        }

        /// <summary>The service an ImagePath op addresses (the last segment of its key), for the Type lookup.</summary>
        public static string ImagePathService(IDictionary op)
        {
            string[] parts = NormaliseKey((string)op["key"]).Split('\\');
            return parts[parts.Length - 1];
        }
    }

    /// <summary>The shape of an operation: the port of _operations.check_shape, with the same messages.</summary>
    public static class OpShape
    {
        public static readonly string[] OpKinds = new string[] { "registry_value", "service_start_mode", "service_state", "path_security", "service_security" };
        public static readonly string[] StartModes = new string[] { "boot", "system", "auto", "manual", "disabled", "unknown" };
        public static readonly string[] SettableStartModes = new string[] { "auto", "manual", "disabled" };
        public static readonly string[] StateActions = new string[] { "started", "restarted" };
        public static readonly string[] Targets = new string[] { "folder", "files" };
        public static readonly string[] RegKinds = new string[] { "REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY", "REG_NONE", "missing" };

        private sealed class ShapeException : Exception
        {
            public ShapeException(string message) : base(message)
            {
            }
        }

        private static void Require(IDictionary op, string key, string where)
        {
            if (!op.Contains(key))
                throw new ShapeException(String.Format("{0}: '{1}' is missing", where, key));
            if (!(op[key] is string))
                throw new ShapeException(String.Format("{0}: '{1}' has the wrong type ({2})", where, key, PyText.TypeName(op[key])));
        }

        private static bool OneOf(object value, string[] choices)
        {
            string text = value as string;
            return text != null && Array.IndexOf(choices, text) >= 0;
        }

        /// <summary>_state._check_regvalue(value, "value", "operation"): the problem, or null.</summary>
        public static string RegistryValueProblem(object value)
        {
            IDictionary map = value as IDictionary;
            if (map == null)
                return "operation: field 'value': expected a registry value object, got " + PyText.Describe(value);
            foreach (string key in new string[] { "kind", "data" })
                if (!map.Contains(key))
                    return String.Format("operation: field 'value.{0}': is missing", key);
            object kind = map["kind"];
            object data = map["data"];
            if (!OneOf(kind, RegKinds))
                return String.Format("operation: field 'value.kind': expected one of {0}; got {1}", String.Join(", ", RegKinds), PyText.Shown(kind));
            string expected = null;
            bool ok;
            switch ((string)kind)
            {
                case "REG_SZ":
                case "REG_EXPAND_SZ":
                    expected = "a string";
                    ok = data is string;
                    break;
                case "REG_MULTI_SZ":
                    expected = "a list of strings";
                    ok = data is IList && !(data is string);
                    if (ok)
                        foreach (object item in (IList)data)
                            ok = ok && item is string;
                    break;
                case "REG_DWORD":
                    expected = "an unsigned integer";
                    ok = RegistryValue.InRange(data, UInt32.MaxValue);
                    break;
                case "REG_QWORD":
                    expected = "an unsigned integer";
                    ok = RegistryValue.InRange(data, UInt64.MaxValue);
                    break;
                case "REG_BINARY":
                case "REG_NONE":
                    expected = "a hex string";
                    ok = RegistryValue.IsHex(data);
                    break;
                default:
                    expected = "null";
                    ok = data == null;
                    break;
            }
            if (ok)
                return null;
            return String.Format("operation: field 'value.data': {0} data must be {1}, got {2}", kind, expected, PyText.Describe(data));
        }

        private static void RegistryValueShape(object value, string where)
        {
            IDictionary map = value as IDictionary;
            if (map == null || !map.Contains("kind") || !map.Contains("data"))
                throw new ShapeException(where + ": expected {kind, data}");
            string problem = RegistryValueProblem(value);
            if (problem != null)
                throw new ShapeException(where + ": " + problem);
        }

        /// <summary>Why op is not a well-formed operation (the message of check_shape), or null.</summary>
        public static string Problem(object value, int index)
        {
            string where = String.Format(CultureInfo.InvariantCulture, "operation {0}", index);
            IDictionary op = value as IDictionary;
            if (op == null)
                return where + ": expected an object";
            try
            {
                Require(op, "op", where);
                string kind = (string)op["op"];
                if (Array.IndexOf(OpKinds, kind) < 0)
                    return String.Format("{0}: unknown op {1} (expected one of {2})", where, PyText.ReprString(kind), String.Join(", ", OpKinds));
                where = where + " (" + kind + ")";
                switch (kind)
                {
                    case "registry_value":
                        Require(op, "key", where);
                        Require(op, "name", where);
                        RegistryValueShape(op.Contains("expect") ? op["expect"] : null, where + ": 'expect'");
                        RegistryValueShape(op.Contains("set") ? op["set"] : null, where + ": 'set'");
                        break;
                    case "service_start_mode":
                        Require(op, "service", where);
                        if (!OneOf(op.Contains("expect") ? op["expect"] : null, StartModes))
                            return where + ": 'expect' must be one of " + String.Join(", ", StartModes);
                        if (!OneOf(op.Contains("set") ? op["set"] : null, SettableStartModes))
                            return where + ": 'set' must be one of " + String.Join(", ", SettableStartModes);
                        break;
                    case "service_state":
                        Require(op, "service", where);
                        Require(op, "expect", where);
                        if (!OneOf(op.Contains("set") ? op["set"] : null, StateActions))
                            return where + ": 'set' must be one of " + String.Join(", ", StateActions);
                        break;
                    case "path_security":
                        Require(op, "path", where);
                        if (!OneOf(op.Contains("target") ? op["target"] : null, Targets))
                            return where + ": 'target' must be one of " + String.Join(", ", Targets);
                        Require(op, "expect", where);
                        Require(op, "set", where);
                        if (op.Contains("names"))
                        {
                            bool valid = op["names"] is IList && !(op["names"] is string);
                            if (valid)
                                foreach (object name in (IList)op["names"])
                                    valid = valid && name is string;
                            if (!valid)
                                return where + ": 'names' must be a list of file names";
                        }
                        break;
                    default:
                        Require(op, "service", where);
                        Require(op, "expect", where);
                        Require(op, "set", where);
                        break;
                }
            }
            catch (ShapeException error)
            {
                return error.Message;
            }
            return null;
        }
    }

    /// <summary>
    /// A file or folder opened once, itself: a junction or symbolic link is the link, never what it points to
    /// (FILE_FLAG_OPEN_REPARSE_POINT). What the engine reads and writes of one file goes through one handle, so the name
    /// cannot be pointed elsewhere between the check and the write.
    /// </summary>
    public interface IHostObject : IDisposable
    {
        bool IsDirectory();
        /// <summary>FILE_ATTRIBUTE_REPARSE_POINT: a junction, symbolic link or mount point.</summary>
        bool IsReparsePoint();
        /// <summary>How many names the file has (nNumberOfLinks, GetFileInformationByHandle).</summary>
        int LinkCount();
        /// <summary>Owner, group and DACL as SDDL, read raw (the SACL needs another access: IHostOs.ReadSecurity).</summary>
        string ReadSecurity();
        /// <summary>Write owner (when given) and DACL raw, as IHostOs.WriteSecurity; only when opened for writing.</summary>
        void WriteSecurity(string ownerAndDacl);
    }

    /// <summary>
    /// Everything the engine asks of the operating system. WindowsHostOs implements it with the Win32 API; the test suite's
    /// FakeOs (tests/csharp) models Windows in memory, so the engine's decisions run under mono. Paths are absolute
    /// Windows paths; registry keys are HKLM-relative ("SYSTEM\CurrentControlSet\Services\X"); descriptors are SDDL.
    /// Methods only, no properties. A file or folder named by a path is the object itself: a link as the last component
    /// is never followed (links in the middle of a path are, as Windows resolves them: the engine checks those folders).
    /// A path that does not exist raises FileNotFoundException or DirectoryNotFoundException, and nothing else does.
    /// </summary>
    public interface IHostOs
    {
        string SystemRoot();
        string HostName();
        DateTime UtcNow();
        /// <summary>8 lower-case hex digits for a backup id.</summary>
        string NewIdSuffix();
        /// <summary>
        /// The one-writer lock (Global\backupready.windows.apply); TimeoutException when not had in time,
        /// UnauthorizedAccessException when it cannot be opened (another account created it and denies us).
        /// </summary>
        IDisposable Lock(int timeoutMilliseconds);
        void Sleep(int milliseconds);
        /// <summary>
        /// Called by the engine between the steps of an apply ("pending_written", "write", "written", "committed") with
        /// the operation index (-1 when none). Nothing on Windows; the fake injects faults and crashes here.
        /// </summary>
        void Step(string stage, int index);

        bool RegistryKeyExists(string subKey);
        /// <summary>A value object ({kind, data}); "missing" when the value is absent; null when the key is absent.</summary>
        Dictionary<string, object> RegistryRead(string subKey, string name);
        /// <summary>Write (kind "missing": delete) a value; the key is created only when createKey.</summary>
        void RegistryWrite(string subKey, string name, IDictionary value, bool createKey);
        /// <summary>Why an existing key cannot be opened for writing (some service keys deny Administrators), or null.</summary>
        string RegistryWriteProblem(string subKey);

        /// <summary>running, stopped, start_pending, ... or null when there is no such service.</summary>
        string ServiceState(string service);
        /// <summary>The service's descriptor (O, G, D, S) as SDDL, or "default" when it has none of its own.</summary>
        string ServiceDescriptor(string service);
        /// <summary>Start type: auto, manual or disabled (ChangeServiceConfig).</summary>
        void SetServiceStartMode(string service, string mode);
        void StartService(string service);
        /// <summary>Stop (with the services that depend on it) and start again.</summary>
        void RestartService(string service);
        /// <summary>Write the DACL of the service's descriptor (SetServiceObjectSecurity, DACL only).</summary>
        void SetServiceDacl(string service, string daclSddl);

        /// <summary>True, false, or an exception when it cannot be told (never false for "could not look").</summary>
        bool DirectoryExists(string path);
        string[] ListFiles(string folder);
        string[] ListDirectories(string folder);
        /// <summary>Owner, group, DACL (and SACL when asked) as SDDL, read raw on a handle opened with backup intent.</summary>
        string ReadSecurity(string path, bool withSacl);
        /// <summary>The file or folder itself on one handle (backup intent, links not followed); forWrite: owner and DACL too.</summary>
        IHostObject OpenObject(string path, bool forWrite);
        /// <summary>Write owner (when given) and DACL raw: the DACL's P decides protected or not; ID ACEs are not given.</summary>
        void WriteSecurity(string path, string ownerAndDacl);
        /// <summary>Why Windows would not accept this SDDL, or null.</summary>
        string SddlProblem(string sddl);
        void CreateDirectory(string path, string sddl);
        string ReadText(string path);
        /// <summary>Write a file through a temporary file in the same folder (.tmp-*), flushed, then renamed over it.</summary>
        void WriteTextAtomic(string folder, string name, string text, string sddl);
        void DeleteFile(string path);
        void DeleteDirectory(string path);
    }

    /// <summary>
    /// The write path of docs/write-path.md on a live host: shape check, semantic allow-list, compare-and-swap before
    /// anything and again immediately before each write, undo bookkeeping with what is read back, the journal protocol
    /// of backupready.backup/2 records in a protected store, pending resolution, retention and rollback verification.
    /// Every OS call goes through IHostOs, so the test suite runs all of it against a fake Windows under mono.
    /// win_backup_apply.ps1 only wires Ansible.Basic to Apply; win_backup_state.ps1 uses ListBackups and PathSecurity.
    /// </summary>
    public static class BackupEngine
    {
        public const string RecordFormat = "backupready.backup/2";
        public const string RecordWriter = "backupready.windows";
        public const string RecordFile = "backup.json";
        public const string TempPrefix = ".tmp-";
        /// <summary>The store and its parent: SYSTEM and Administrators only, protected from %ProgramData%'s "Users may create".</summary>
        public const string StoreSddl = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
        public const string RecordFileSddl = "O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)";
        public const int LockTimeoutMilliseconds = 60000;
        public const string LockName = "Global\\backupready.windows.apply";
        public const int ServiceTimeoutMilliseconds = 60000;
        public const int ServicePollMilliseconds = 250;

        // FILE_WRITE_DATA/ADD_FILE 0x2, FILE_APPEND_DATA/ADD_SUBDIRECTORY 0x4, FILE_WRITE_EA 0x10, FILE_DELETE_CHILD 0x40,
        // FILE_WRITE_ATTRIBUTES 0x100, DELETE, WRITE_DAC, WRITE_OWNER, MAXIMUM_ALLOWED, GENERIC_ALL, GENERIC_WRITE (winnt.h).
        public const long ModifyRights = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x2000000 | 0x10000000 | 0x40000000;

        private static readonly Regex IdPattern = new Regex(@"\A[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}\z");
        private static readonly string[] AllowTypes = new string[] { "A", "OA", "XA", "ZA" };

        // ---- small helpers -----------------------------------------------------------------------------------------

        public static string Join(string folder, string name)
        {
            return folder.TrimEnd('\\') + "\\" + name;
        }

        private static string Parent(string path)
        {
            string trimmed = path.TrimEnd('\\');
            int cut = trimmed.LastIndexOf('\\');
            return cut <= 2 ? null : trimmed.Substring(0, cut);
        }

        private static string Leaf(string path)
        {
            string trimmed = path.TrimEnd('\\');
            return trimmed.Substring(trimmed.LastIndexOf('\\') + 1);
        }

        public static bool IsBackupId(string id)
        {
            return id != null && IdPattern.IsMatch(id);
        }

        /// <summary>yyyyMMddTHHmmssfffZ-xxxxxxxx (UTC) -> yyyy-MM-ddTHH:mm:ss.fffZ.</summary>
        public static string CreatedOfId(string id)
        {
            return String.Format("{0}-{1}-{2}T{3}:{4}:{5}.{6}Z", id.Substring(0, 4), id.Substring(4, 2), id.Substring(6, 2),
                id.Substring(9, 2), id.Substring(11, 2), id.Substring(13, 2), id.Substring(15, 3));
        }

        private static Dictionary<string, object> Map(params object[] pairs)
        {
            Dictionary<string, object> map = new Dictionary<string, object>();
            for (int i = 0; i < pairs.Length; i += 2)
                map[(string)pairs[i]] = pairs[i + 1];
            return map;
        }

        private static string Text(IDictionary op, string key)
        {
            return op.Contains(key) ? op[key] as string : null;
        }

        /// <summary>describe(): what an operation addresses, e.g. "HKLM\...\Services\X\ImagePath".</summary>
        public static string Subject(IDictionary op)
        {
            string kind = (string)op["op"];
            if (kind == "registry_value")
                return AllowList.NormaliseKey((string)op["key"]) + "\\" + (string)op["name"];
            if (kind == "path_security")
                return (string)op["path"] + " (" + (string)op["target"] + " security)";
            return "service " + (string)op["service"] + " (" + kind.Replace("service_", "").Replace("_", " ") + ")";
        }

        private static string Message(Exception error)
        {
            return error.Message;
        }

        /// <summary>Whether an error says the path does not exist: only that is "gone"; any other error is "cannot be told".</summary>
        public static bool IsNotFound(Exception error)
        {
            if (error is FileNotFoundException || error is DirectoryNotFoundException)
                return true;
            Win32Exception win32 = error as Win32Exception;
            return win32 != null && (win32.NativeErrorCode == 2 || win32.NativeErrorCode == 3);  // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND
        }

        /// <summary>
        /// Why an object must not be used (docs/write-path.md section 4, "links are never followed"): it is a reparse point
        /// (a junction, symbolic link or mount point, which would take a read or write elsewhere), or a file with more than
        /// one name (a hard link: what is written to it is written to a file elsewhere). Null otherwise.
        /// </summary>
        public static string LinkProblem(IHostObject opened, string path)
        {
            if (opened.IsReparsePoint())
                return path + " is a reparse point (a junction, symbolic link or mount point): links are never followed";
            if (!opened.IsDirectory())
            {
                int links = opened.LinkCount();
                if (links > 1)
                    return String.Format(CultureInfo.InvariantCulture,
                        "{0} has {1} hard links (other names of the same file elsewhere): it is never used", path, links);
            }
            return null;
        }

        public static string LinkProblem(IHostOs os, string path)
        {
            using (IHostObject opened = os.OpenObject(path, false))
                return LinkProblem(opened, path);
        }

        // ---- reading what an operation addresses -------------------------------------------------------------------

        private static string ServicesSubKey(string service)
        {
            return "SYSTEM\\CurrentControlSet\\Services\\" + service;
        }

        /// <summary>The Type of a service key (as the probe lists services: a key with a REG_DWORD Type), or null.</summary>
        public static long? ServiceType(IHostOs os, string service)
        {
            if (!AllowList.IsServiceName(service))
                return null;
            Dictionary<string, object> type = os.RegistryRead(ServicesSubKey(service), "Type");
            if (type == null || (string)type["kind"] != "REG_DWORD")
                return null;
            decimal number;
            PyText.TryInteger(type["data"], out number);
            return (long)number;
        }

        private static string StartMode(IHostOs os, string service)
        {
            Dictionary<string, object> start = os.RegistryRead(ServicesSubKey(service), "Start");
            decimal number;
            if (start != null && (string)start["kind"] == "REG_DWORD" && PyText.TryInteger(start["data"], out number) && number <= 4)
                return OpShape.StartModes[(int)number];
            return "unknown";
        }

        private static string RegistrySubKey(IDictionary op)
        {
            return AllowList.NormaliseKey((string)op["key"]).Substring(5);
        }

        private static bool IsCreatableKey(IDictionary op)
        {
            string lowered = PyText.Lower(AllowList.NormaliseKey((string)op["key"]));
            return lowered == PyText.Lower(AllowList.SystemWriterKey) || lowered == PyText.Lower(AllowList.VssAccessControlKey);
        }

        private sealed class Current
        {
            public bool Found;
            public object Value;
            public string Refusal;
        }

        /// <summary>The value a (non-files) operation would replace, read now from the host.</summary>
        private static Current Read(IHostOs os, IDictionary op)
        {
            Current current = new Current();
            string kind = (string)op["op"];
            if (kind == "registry_value")
            {
                string subKey = RegistrySubKey(op);
                if (IsCreatableKey(op))
                {
                    // SystemWriter and VssAccessControl may be created: an absent key holds no value.
                    current.Found = true;
                    current.Value = os.RegistryRead(subKey, (string)op["name"]);
                    if (current.Value == null)
                    {
                        current.Value = RegistryValue.Missing();
                        bool vss = PyText.Lower(AllowList.NormaliseKey((string)op["key"])) == PyText.Lower(AllowList.VssAccessControlKey);
                        if (vss && !os.RegistryKeyExists(ServicesSubKey("VSS")))
                            current.Refusal = "the VSS service key does not exist and a service key is never created";
                    }
                    return current;
                }
                if (ServiceType(os, AllowList.ImagePathService(op)) == null)
                    return current;
                current.Found = true;
                current.Value = os.RegistryRead(subKey, (string)op["name"]);
                if (current.Value == null)
                    current.Found = false;
                return current;
            }
            string service = (string)op["service"];
            if (kind == "service_state")
            {
                current.Value = os.ServiceState(service);
                current.Found = current.Value != null;
                return current;
            }
            if (kind == "service_start_mode" || kind == "service_security")
            {
                if (ServiceType(os, service) == null)
                    return current;
                current.Found = true;
                current.Value = kind == "service_start_mode" ? (object)StartMode(os, service) : os.ServiceDescriptor(service);
                return current;
            }
            // path_security, target folder
            string path = ((string)op["path"]).TrimEnd('\\');
            if (!os.DirectoryExists(path))
                return current;
            current.Found = true;
            current.Value = Sddl.OwnerAndDacl(os.ReadSecurity(path, false));
            return current;
        }

        /// <summary>Compare-and-swap equality for an operation's kind (docs/write-path.md section 1).</summary>
        private static bool Same(IDictionary op, object current, object wanted)
        {
            string kind = (string)op["op"];
            if (kind == "service_start_mode" || kind == "service_state")
                return current is string && wanted is string && PyText.Lower((string)current) == PyText.Lower((string)wanted);
            if (kind == "registry_value")
                return current is IDictionary && wanted is IDictionary && RegistryValue.Same((IDictionary)current, (IDictionary)wanted);
            if (kind == "path_security")
                return Sddl.SameWritablePart(current as string, wanted as string);
            string left = current as string;
            string right = wanted as string;
            if (left == "default" || right == "default")
                return left == right;
            return Sddl.SameDescriptor(left, right);
        }

        private static string Changed(object wanted, object found)
        {
            return String.Format("the host changed since it was read: expected {0}, found {1}", PyText.Shown(wanted), PyText.Shown(found));
        }

        // ---- trust -------------------------------------------------------------------------------------------------

        /// <summary>
        /// Why a store folder or file is not trusted (docs/write-path.md section 4), or null: its owner must be SYSTEM or
        /// Administrators, and no ACE may give anyone else a right that allows changing it.
        /// </summary>
        public static string TrustProblem(string path, string sddl)
        {
            SddlDescriptor descriptor;
            try
            {
                descriptor = Sddl.Parse(sddl);
            }
            catch (SddlError error)
            {
                return path + ": its descriptor cannot be parsed: " + error.Message;
            }
            string owner = Sddl.ResolveSid(descriptor.Owner);
            if (owner != Sddl.SystemSid && owner != Sddl.AdministratorsSid)
                return String.Format("{0}: its owner is {1}, not SYSTEM or Administrators", path, descriptor.Owner == null ? "unknown" : descriptor.Owner);
            if (descriptor.Dacl == null || descriptor.Dacl.Flags.Contains("NO_ACCESS_CONTROL"))
                return path + ": it has no DACL, so everyone may change it";
            foreach (SddlAce ace in descriptor.Dacl.Aces)
            {
                if (Array.IndexOf(AllowTypes, ace.Type) < 0)
                    continue;
                string sid = Sddl.ResolveSid(ace.Trustee);
                if (sid == Sddl.SystemSid || sid == Sddl.AdministratorsSid)
                    continue;
                long mask;
                try
                {
                    mask = ace.Mask;
                }
                catch (FormatException)
                {
                    mask = ModifyRights;
                }
                if ((mask & ModifyRights) != 0)
                    return String.Format(ace.Flags.Contains("IO") ? "{0}: {1} lets {2} change what is created in it" : "{0}: {1} lets {2} change it",
                        path, ace.Format(), ace.Trustee);
            }
            return null;
        }

        /// <summary>A store folder is secure when it is trusted and its DACL is protected (nothing inherited from %ProgramData%).</summary>
        public static string InsecureFolder(string path, string sddl)
        {
            string problem = TrustProblem(path, sddl);
            if (problem != null)
                return problem;
            return Sddl.Parse(sddl).Dacl.Flags.Contains("P") ? null : path + ": its DACL is not protected (it inherits from its parent)";
        }

        // ---- the store -----------------------------------------------------------------------------------------------

        /// <summary>One backup folder of the store as read: whether it is trusted, why not, its record.</summary>
        public sealed class Entry
        {
            public string Id;
            public string Folder;
            public bool FolderTrusted;
            public bool RecordMissing;
            public bool SecurityTrusted;
            public string Problem;
            public string Text;
            public Dictionary<string, object> Record;

            /// <summary>Trusted, and its record says what a record of this engine says.</summary>
            public bool Usable
            {
                get { return SecurityTrusted && Problem == null && Record != null; }
            }

            public string Status
            {
                get { return Record == null ? null : Record["status"] as string; }
            }

            public List<object> Undo
            {
                get { return (List<object>)Record["undo"]; }
            }
        }

        /// <summary>Backup ids in the store (folders named yyyyMMddTHHmmssfffZ-xxxxxxxx), oldest first.</summary>
        public static List<string> EntryIds(IHostOs os, string store)
        {
            List<string> ids = new List<string>();
            foreach (string name in os.ListDirectories(store))
                if (IsBackupId(name))
                    ids.Add(name);
            ids.Sort(StringComparer.Ordinal);
            return ids;
        }

        /// <summary>What a record claims that this engine checks: format, writer, id, status, lists.</summary>
        public static string RecordProblem(object parsed, string id)
        {
            Dictionary<string, object> record = parsed as Dictionary<string, object>;
            if (record == null)
                return RecordFile + " is not a JSON object";
            object format;
            record.TryGetValue("format", out format);
            if (!(format is string) || (string)format != RecordFormat)
                return String.Format("{0} is not a {1} record (format {2})", RecordFile, RecordFormat, PyText.Shown(format));
            object writer;
            record.TryGetValue("writer", out writer);
            if (!(writer is string) || (string)writer != RecordWriter)
                return String.Format("{0} was not written by {1} (writer {2})", RecordFile, RecordWriter, PyText.Shown(writer));
            object recordId;
            record.TryGetValue("id", out recordId);
            if (!(recordId is string) || (string)recordId != id)
                return String.Format("{0} names the id {1}, not its folder's {2}", RecordFile, PyText.Shown(recordId), id);
            object status;
            record.TryGetValue("status", out status);
            if (!(status is string) || ((string)status != "pending" && (string)status != "committed"))
                return String.Format("{0} has status {1}, not pending or committed", RecordFile, PyText.Shown(status));
            // The shape checks of _journal.record_problem: undo and operations lists of well-formed operations (an undo
            // of a start or restart is a record of the state found, never applied: not checked), label an object.
            foreach (string key in new string[] { "undo", "operations" })
            {
                object list;
                if (!record.TryGetValue(key, out list) || !(list is List<object>))
                    return String.Format("{0}: its {1} is not a list", RecordFile, key);
            }
            object label;
            if (!record.TryGetValue("label", out label) || !(label is Dictionary<string, object>))
                return String.Format("{0}: its label is not a dict", RecordFile);
            foreach (string key in new string[] { "undo", "operations" })
            {
                List<object> ops = (List<object>)record[key];
                for (int i = 0; i < ops.Count; i++)
                {
                    if (key == "undo" && ops[i] is Dictionary<string, object> && Text((IDictionary)ops[i], "op") == "service_state")
                        continue;
                    string problem = OpShape.Problem(ops[i], i);
                    if (problem != null)
                        return String.Format("{0}: its {1} list is malformed: {2}", RecordFile, key, problem);
                }
            }
            return null;
        }

        /// <summary>Read one backup folder: its folder and file must be trusted before its text is read at all.</summary>
        public static Entry LoadEntry(IHostOs os, string store, string id)
        {
            Entry entry = new Entry();
            entry.Id = id;
            entry.Folder = Join(store, id);
            string file = Join(entry.Folder, RecordFile);
            string reading = entry.Folder;
            try
            {
                // The folder and the file themselves, each on one handle: a link is refused, never followed.
                using (IHostObject folder = os.OpenObject(entry.Folder, false))
                {
                    entry.Problem = LinkProblem(folder, entry.Folder);
                    if (entry.Problem == null)
                        entry.Problem = TrustProblem(entry.Folder, folder.ReadSecurity());
                }
                entry.FolderTrusted = entry.Problem == null;
                if (entry.FolderTrusted && Array.IndexOf(os.ListFiles(entry.Folder), RecordFile) < 0)
                {
                    entry.RecordMissing = true;
                    entry.Problem = entry.Folder + ": it holds no " + RecordFile + " (an apply stopped before writing its record)";
                }
                reading = file;
                if (entry.Problem == null)
                {
                    using (IHostObject record = os.OpenObject(file, false))
                    {
                        entry.Problem = LinkProblem(record, file);
                        if (entry.Problem == null)
                            entry.Problem = TrustProblem(file, record.ReadSecurity());
                    }
                }
            }
            catch (Exception error)
            {
                entry.Problem = String.Format("{0}: its security cannot be read: {1}", reading, Message(error));
            }
            if (entry.Problem != null)
                return entry;
            entry.SecurityTrusted = true;
            try
            {
                entry.Text = os.ReadText(file);
                object parsed = BackupJson.Parse(entry.Text);
                entry.Problem = RecordProblem(parsed, id);
                if (entry.Problem == null)
                    entry.Record = (Dictionary<string, object>)parsed;
            }
            catch (FormatException error)
            {
                entry.Problem = RecordFile + " is not valid JSON: " + error.Message;
            }
            catch (Exception error)
            {
                entry.Problem = file + " cannot be read: " + Message(error);
            }
            return entry;
        }

        /// <summary>Write a record atomically (temporary file in its folder, flushed, renamed over backup.json).</summary>
        private static void WriteRecord(IHostOs os, string folder, Dictionary<string, object> record)
        {
            os.WriteTextAtomic(folder, RecordFile, BackupJson.Dump(record) + "\n", RecordFileSddl);
        }

        /// <summary>Delete a backup folder and its files; a folder that is a link is never entered (nothing is deleted).</summary>
        private static void DeleteEntry(IHostOs os, string folder)
        {
            string link = LinkProblem(os, folder);
            if (link != null)
                throw new InvalidOperationException(link + ": nothing in it is deleted");
            foreach (string name in os.ListFiles(folder))
                os.DeleteFile(Join(folder, name));  // a link among them: only the link is deleted
            os.DeleteDirectory(folder);
        }

        /// <summary>The store cannot be used as it is: a folder on its way is a link, or it is a folder this collection did not make.</summary>
        public sealed class StoreRefused : Exception
        {
            public StoreRefused(string message) : base(message)
            {
            }
        }

        /// <summary>What securing the store does: the folders to create (in order), those to protect again and why.</summary>
        private sealed class StorePlan
        {
            public readonly List<string> Create = new List<string>();
            public readonly List<string> Protect = new List<string>();
            public readonly List<string> Why = new List<string>();
        }

        /// <summary>
        /// Why backup_dir cannot name the store, or null: it must be a folder below a drive's root, written the one way
        /// Windows reads it (X:\folder\...: no '/', '.', '..', doubled '\\', \\?\ or UNC, no character Windows refuses
        /// in a name, no name ending in a dot or a space, which Windows drops). Every check of the store walks its
        /// folders by splitting on '\\', so a second spelling would let a link on the way go unseen; "C:" alone is the
        /// current folder of drive C, not its root.
        /// </summary>
        public static string StorePathProblem(string store)
        {
            string why = null;
            if (store == null || !PyText.StartsWithDrive(store) || store.Length < 4 || store[2] != '\\')
                why = "an absolute local path (X:\\folder)";
            else
            {
                string rest = store.Substring(3);
                if (rest.EndsWith("\\", StringComparison.Ordinal))
                    rest = rest.Substring(0, rest.Length - 1);
                foreach (string segment in rest.Split('\\'))
                {
                    bool bad = segment.Length == 0 || segment == "." || segment == ".." || segment.EndsWith(".", StringComparison.Ordinal)
                        || segment.EndsWith(" ", StringComparison.Ordinal) || segment.IndexOfAny(ForbiddenInNames) >= 0
                        || ShortName.IsMatch(segment) || DeviceName.IsMatch(segment);
                    foreach (char c in segment)
                        bad |= c < ' ';
                    if (bad)
                    {
                        why = "a folder below a drive's root, each name written as Windows keeps it (no '/', '.', '..', empty name, " +
                            "character Windows refuses in a name, name ending in a dot or space, 8.3 short name or device name)";
                        break;
                    }
                }
            }
            return why == null ? null : String.Format("backup_dir must be {0}, not {1}", why, PyText.Quoted(store ?? ""));
        }

        private static readonly char[] ForbiddenInNames = new char[] { '/', ':', '*', '?', '"', '<', '>', '|' };
        // PROGRA~3: a second spelling of a long name ("Naming Files, Paths, and Namespaces", Microsoft docs). Any name with
        // a '~' followed by a digit is refused, as an 8.3 short name may be one.
        private static readonly Regex ShortName = new Regex("~[0-9]", RegexOptions.CultureInvariant);
        // CON, PRN, AUX, NUL, COM1-9 and LPT1-9 (with the superscript digits), CONIN$, CONOUT$, with or without an
        // extension and spaces before it, name devices, not folders (same page).
        private static readonly Regex DeviceName = new Regex("^(CON|PRN|AUX|NUL|CONIN\\$|CONOUT\\$|(COM|LPT)[1-9\u00b9\u00b2\u00b3]) *(\\..*)?$",
            RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

        /// <summary>
        /// Why an existing folder named as the store (or as its backupready parent) is not one this collection made, or null
        /// when it is: owned by SYSTEM or Administrators and holding nothing but backup folders and temporary files (the
        /// store) or the store and other stores this collection made (the parent). Anything else is never taken over
        /// (docs/write-path.md section 4).
        /// </summary>
        private static string NotMadeHere(IHostOs os, string folder, string sddl, bool isStore, string storeLeaf)
        {
            string owner = Sddl.Parse(sddl).Owner;
            string sid = Sddl.ResolveSid(owner);
            string refused = ": it is not a backup store this collection made, and it is never taken over";
            if (sid != Sddl.SystemSid && sid != Sddl.AdministratorsSid)
                return String.Format("{0} is owned by {1}, not SYSTEM or Administrators{2}", folder, owner == null ? "nobody" : owner, refused);
            foreach (string name in os.ListFiles(folder))
                if (!name.StartsWith(TempPrefix, StringComparison.Ordinal))
                    return String.Format("{0} holds the file {1}{2}", folder, PyText.Quoted(name), refused);
            foreach (string name in os.ListDirectories(folder))
            {
                if (isStore && !IsBackupId(name))
                    return String.Format("{0} holds the folder {1}, which is not a backup{2}", folder, PyText.Quoted(name), refused);
                if (isStore || String.Equals(name, storeLeaf, StringComparison.OrdinalIgnoreCase))
                    continue;
                string other = OtherStoreProblem(os, Join(folder, name));
                if (other != null)
                    return String.Format("{0} holds the folder {1}, which is not a backup store ({2}){3}", folder, PyText.Quoted(name), other, refused);
            }
            return null;
        }

        /// <summary>Why a folder beside the store under its backupready parent is not another store this collection made
        /// (another backup_dir: owned by SYSTEM or Administrators, holding only backups and temporary files), or null. A
        /// folder that cannot be read is a reason; one gone since it was listed is not.</summary>
        private static string OtherStoreProblem(IHostOs os, string folder)
        {
            try
            {
                using (IHostObject opened = os.OpenObject(folder, false))
                    return NotMadeHere(os, folder, opened.ReadSecurity(), true, null);
            }
            catch (Exception error)
            {
                return IsNotFound(error) ? null : "it cannot be read: " + Message(error);
            }
        }

        /// <summary>
        /// Securing the store, read only (docs/write-path.md section 4): the store and, when it is named backupready (as
        /// %ProgramData%\backupready), its parent are the engine's; missing ones (and missing folders above a custom store)
        /// are to be created with the protected DACL, existing weaker ones protected again. StoreRefused when a folder on the
        /// way, from the drive's root down, is a link (it would take the store elsewhere), or when an existing store folder
        /// is not one this collection made.
        /// </summary>
        private static StorePlan PlanStore(IHostOs os, string store)
        {
            StorePlan plan = new StorePlan();
            string storePath = store.TrimEnd('\\');
            List<string> folders = new List<string>();
            string parent = Parent(storePath);
            if (parent != null && String.Equals(Leaf(parent), "backupready", StringComparison.OrdinalIgnoreCase))
                folders.Add(parent);
            folders.Add(storePath);
            List<string> above = new List<string>();
            for (string ancestor = Parent(folders[0]); ancestor != null; ancestor = Parent(ancestor))
                above.Insert(0, ancestor);
            foreach (string folder in above)
            {
                if (!os.DirectoryExists(folder))
                {
                    plan.Create.Add(folder);
                    continue;
                }
                string link = LinkProblem(os, folder);
                if (link != null)
                    throw new StoreRefused(link);
            }
            foreach (string folder in folders)
            {
                if (!os.DirectoryExists(folder))
                {
                    plan.Create.Add(folder);
                    continue;
                }
                string problem;
                using (IHostObject opened = os.OpenObject(folder, false))
                {
                    problem = LinkProblem(opened, folder);
                    if (problem != null)
                        throw new StoreRefused(problem);
                    string sddl = opened.ReadSecurity();
                    problem = NotMadeHere(os, folder, sddl, folder == storePath, Leaf(storePath));
                    if (problem != null)
                        throw new StoreRefused(problem);
                    problem = InsecureFolder(folder, sddl);
                }
                if (problem != null)
                {
                    // Protecting it again propagates into what it holds: a link there (one could be planted while it
                    // was weak) is never taken along.
                    foreach (string name in os.ListDirectories(folder))
                    {
                        string link = LinkProblem(os, Join(folder, name));
                        if (link != null)
                            throw new StoreRefused(link + ": " + folder + " is not protected again while it holds a link");
                    }
                    plan.Protect.Add(folder);
                    plan.Why.Add(problem);
                }
            }
            return plan;
        }

        /// <summary>
        /// Carry out a store plan: protect again the weaker folders (each on one handle, checked again there), create the
        /// missing ones (only when create). CreateDirectory fails when the name exists: nothing made by someone else in
        /// between is taken over.
        /// </summary>
        private static void SecureStore(IHostOs os, StorePlan plan, bool create, Dictionary<string, object> info)
        {
            for (int i = 0; i < plan.Protect.Count; i++)
            {
                string folder = plan.Protect[i];
                using (IHostObject opened = os.OpenObject(folder, true))
                {
                    string problem = LinkProblem(opened, folder);
                    if (problem != null)
                        throw new StoreRefused(problem);
                    if (InsecureFolder(folder, opened.ReadSecurity()) == null)
                        continue;
                    opened.WriteSecurity(StoreSddl);
                }
                ((List<object>)info["secured"]).Add(plan.Why[i]);
            }
            if (!create)
                return;
            foreach (string folder in plan.Create)
            {
                os.CreateDirectory(folder, StoreSddl);
                ((List<object>)info["created"]).Add(folder);
            }
        }

        // ---- the journal ---------------------------------------------------------------------------------------------

        private const int OnHost = 1;
        private const int Absent = 2;
        private const int Unknown = 3;
        private const int RecordOnly = 4;

        /// <summary>Where one undo operation of a pending record stands: its change on the host, absent, or unknown.</summary>
        private static int Standing(IHostOs os, Dictionary<string, object> undo, out List<string> namesOnHost, out string why)
        {
            namesOnHost = null;
            why = null;
            if (Text(undo, "op") == "service_state")
                return RecordOnly;  // a start or restart: recorded, never undone (_journal.presence: "record")
            if (OpShape.Problem(undo, 0) != null)
            {
                why = "it is not an operation";
                return Unknown;
            }
            try
            {
                if (Text(undo, "op") == "path_security" && Text(undo, "target") == "files")
                {
                    namesOnHost = new List<string>();
                    bool anyAbsent = false;
                    string folder = ((string)undo["path"]).TrimEnd('\\');
                    object names = undo.ContainsKey("names") ? undo["names"] : null;
                    if (names == null)
                    {
                        why = "it does not name its files";
                        return Unknown;
                    }
                    foreach (object name in (List<object>)names)
                    {
                        string file = Join(folder, (string)name);
                        string sddl;
                        try
                        {
                            using (IHostObject opened = os.OpenObject(file, false))
                            {
                                why = LinkProblem(opened, file);
                                if (why != null)
                                    return Unknown;
                                sddl = Sddl.OwnerAndDacl(opened.ReadSecurity());
                            }
                        }
                        catch (Exception error)
                        {
                            if (IsNotFound(error))
                                continue;  // a file that is gone has nothing to restore
                            why = String.Format("file {0} cannot be read ({1}): whether its change is there cannot be told", (string)name, Message(error));
                            return Unknown;
                        }
                        if (Same(undo, sddl, undo["expect"]))
                            namesOnHost.Add((string)name);
                        else if (Same(undo, sddl, undo["set"]))
                            anyAbsent = true;
                        else
                        {
                            why = String.Format("file {0} has neither the descriptor written nor the one found", (string)name);
                            return Unknown;
                        }
                    }
                    if (namesOnHost.Count > 0)
                        return OnHost;
                    if (!anyAbsent)
                        why = "none of its files is left";
                    return Absent;
                }
                Current current = Read(os, undo);
                if (!current.Found)
                {
                    why = "it is not found on the host";
                    return Unknown;
                }
                if (Same(undo, current.Value, undo["expect"]))
                    return OnHost;
                if (Same(undo, current.Value, undo["set"]))
                    return Absent;
                why = String.Format("it is neither the value written nor the value found ({0})", PyText.Shown(current.Value));
                return Unknown;
            }
            catch (Exception error)
            {
                why = "it cannot be read: " + Message(error);
                return Unknown;
            }
        }

        /// <summary>What a pending record becomes: discarded, committed (with Undo) or left pending, and why.</summary>
        private sealed class Resolution
        {
            public string Action;        // discarded, committed, left_pending
            public List<object> Undo;    // committed: the undo of what is on the host
            public string Msg;
        }

        /// <summary>
        /// Judge a pending record (a crash between its write and its completion) against the host, reading only: every
        /// change absent -> discarded; some on the host and the rest absent -> committed with the undo of what is on the
        /// host (a start or restart only when a later change of the record is on the host); anything unknown, or anything
        /// that cannot be read -> left pending (a rollback refuses it). The port of _journal.resolve_pending.
        /// </summary>
        private static Resolution Judge(IHostOs os, Entry entry)
        {
            Resolution resolution = new Resolution();
            List<object> undo = entry.Undo;
            int lastOnHost = -1;
            List<int> standings = new List<int>();
            List<List<string>> names = new List<List<string>>();
            for (int i = 0; i < undo.Count; i++)
            {
                List<string> onHost;
                string why;
                int standing = Standing(os, (Dictionary<string, object>)undo[i], out onHost, out why);
                if (standing == Unknown)
                {
                    string subject = OpShape.Problem(undo[i], i) == null ? Subject((IDictionary)undo[i]) : "operation " + i.ToString(CultureInfo.InvariantCulture);
                    resolution.Action = "left_pending";
                    resolution.Msg = String.Format("undo {0} ({1}): {2}; the record stays pending and cannot be rolled back", i, subject, why);
                    return resolution;
                }
                standings.Add(standing);
                names.Add(onHost);
                if (standing == OnHost)
                    lastOnHost = i;
            }
            if (lastOnHost < 0)
            {
                resolution.Action = "discarded";
                resolution.Msg = "none of its changes is on the host: the apply that wrote it stopped before its first write";
                return resolution;
            }
            int onHostCount = 0;
            resolution.Undo = new List<object>();
            for (int i = 0; i < undo.Count; i++)
            {
                Dictionary<string, object> op = (Dictionary<string, object>)undo[i];
                if (standings[i] == OnHost)
                {
                    onHostCount++;
                    if (names[i] != null)
                    {
                        op = new Dictionary<string, object>(op);
                        op["names"] = new List<object>(names[i].ToArray());
                    }
                    resolution.Undo.Add(op);
                }
                else if (standings[i] == RecordOnly && i < lastOnHost)
                {
                    resolution.Undo.Add(op);  // a start or restart done before a later write that is on the host
                }
            }
            resolution.Action = "committed";
            resolution.Msg = String.Format(CultureInfo.InvariantCulture, "{0} of its {1} change(s) are on the host: committed with their undo",
                onHostCount, undo.Count);
            return resolution;
        }

        /// <summary>Resolve a pending record: judged (Judge), then deleted, rewritten committed, or left as it is.</summary>
        private static Dictionary<string, object> ResolvePending(IHostOs os, Entry entry)
        {
            Resolution resolution = Judge(os, entry);
            if (resolution.Action == "discarded")
            {
                DeleteEntry(os, entry.Folder);
            }
            else if (resolution.Action == "committed")
            {
                entry.Record["status"] = "committed";
                entry.Record["undo"] = resolution.Undo;
                WriteRecord(os, entry.Folder, entry.Record);
            }
            return Map("id", entry.Id, "action", resolution.Action, "msg", resolution.Msg);
        }

        /// <summary>Steps 1-2 of the protocol: protect the store again, remove temporary files, resolve pending records.</summary>
        private static void Maintain(IHostOs os, string store, StorePlan plan, Dictionary<string, object> result)
        {
            Dictionary<string, object> info = (Dictionary<string, object>)result["store"];
            if (!os.DirectoryExists(store))
                return;
            SecureStore(os, plan, false, info);
            List<string> temps = new List<string>();
            foreach (string name in os.ListFiles(store))
                if (name.StartsWith(TempPrefix, StringComparison.Ordinal))
                    temps.Add(Join(store, name));
            List<Entry> entries = new List<Entry>();
            List<object> journal = (List<object>)result["journal"];
            foreach (string id in EntryIds(os, store))
            {
                Entry entry = LoadEntry(os, store, id);
                if (entry.RecordMissing)
                {
                    // Step 5 crashed between creating the folder and renaming the record into it: nothing was written.
                    DeleteEntry(os, entry.Folder);
                    journal.Add(Map("id", id, "action", "discarded", "msg", "a backup folder without its record: the apply that made it stopped before its first write"));
                    continue;
                }
                if (!entry.SecurityTrusted)
                    continue;
                foreach (string name in os.ListFiles(entry.Folder))
                    if (name.StartsWith(TempPrefix, StringComparison.Ordinal))
                        temps.Add(Join(entry.Folder, name));
                entries.Add(entry);
            }
            foreach (string temp in temps)
                os.DeleteFile(temp);
            info["temp_removed"] = (long)temps.Count;
            foreach (Entry entry in entries)
                if (entry.Usable && entry.Status == "pending")
                    journal.Add(ResolvePending(os, entry));
        }

        /// <summary>
        /// Step 8: keep the newest keepBackups committed, trusted records, the one just written always among them (even
        /// when the clock went back and its id sorts first); delete older ones, never pending ones (_journal.to_prune).
        /// </summary>
        private static void Prune(IHostOs os, string store, int keepBackups, string protect, Dictionary<string, object> result)
        {
            List<string> committed = new List<string>();
            foreach (string id in EntryIds(os, store))
            {
                if (id == protect)
                    continue;
                Entry entry = LoadEntry(os, store, id);
                if (entry.Usable && entry.Status == "committed")
                    committed.Add(id);
            }
            committed.Reverse();
            List<object> pruned = (List<object>)result["pruned"];
            for (int i = Math.Max(keepBackups - (protect == null ? 0 : 1), 0); i < committed.Count; i++)
            {
                DeleteEntry(os, Join(store, committed[i]));
                pruned.Add(committed[i]);
            }
        }

        /// <summary>
        /// Delete the committed, trusted backups whose every operation and undo operation changes nothing but the
        /// self-test sandbox of runId (SelftestSandbox.IsBackupOfRun, _selftest.remove_backups), under the apply lock; their
        /// ids (in check mode: what would be deleted). Any other record, a pending or untrusted one included, is never
        /// deleted: a self-test leaves none of its backups behind and removes no other backup.
        /// </summary>
        public static List<object> DeleteSelftestBackups(IHostOs os, string store, string runId, bool checkMode)
        {
            SelftestSandbox.Folder(os, runId);  // ArgumentException for a run id that is not one
            string storeProblem = StorePathProblem(store);
            if (storeProblem != null)
                throw new InvalidOperationException(storeProblem);
            if (checkMode)
                return SelftestBackupsOf(os, store, runId, false);  // a dry run deletes nothing: no lock, as Apply
            IDisposable locked;
            try
            {
                locked = os.Lock(LockTimeoutMilliseconds);
            }
            catch (TimeoutException)
            {
                throw new InvalidOperationException("another apply holds " + LockName + ": waited 60 seconds, no backup was deleted");
            }
            catch (UnauthorizedAccessException error)
            {
                throw new InvalidOperationException(String.Format("{0} cannot be opened by this account (another account created " +
                    "it or denies access), no backup was deleted: {1}", LockName, Message(error)));
            }
            using (locked)
            {
                return SelftestBackupsOf(os, store, runId, true);
            }
        }

        private static List<object> SelftestBackupsOf(IHostOs os, string store, string runId, bool delete)
        {
            List<object> gone = new List<object>();
            if (!os.DirectoryExists(store))
                return gone;
            PlanStore(os, store);  // StoreRefused: a link on the way, or a store this collection did not make
            // The run's ExcludedBinaryPaths entry still in the value: a change of the run is still on the host, and its
            // backups are the way to undo it, so none is deleted.
            Dictionary<string, object> value = os.RegistryRead(AllowList.NormaliseKey(AllowList.SystemWriterKey).Substring(5),
                AllowList.ExcludedBinaryPaths);
            if (SelftestSandbox.HoldsTheEntry(os, value, runId))
                return gone;
            foreach (string id in EntryIds(os, store))
            {
                Entry entry = LoadEntry(os, store, id);
                if (entry.Usable && entry.Status == "committed" && SelftestSandbox.IsBackupOfRun(os.SystemRoot(), entry.Record, runId))
                {
                    if (delete)
                        DeleteEntry(os, entry.Folder);
                    gone.Add(id);
                }
            }
            return gone;
        }

        /// <summary>
        /// The operations of record must each be one of the undo operations of the record its label names (the claim
        /// checked, docs/write-path.md section 4): null when they are (or when the other record cannot be read).
        /// </summary>
        private static string ClaimProblem(IHostOs os, string store, Entry entry)
        {
            object label;
            if (!entry.Record.TryGetValue("label", out label))
                return null;
            string target = Text((IDictionary)label, "rollback_of");
            if (target == null || !IsBackupId(target) || !os.DirectoryExists(Join(store, target)))
                return null;
            Entry undone = LoadEntry(os, store, target);
            if (!undone.Usable)
                return null;
            string refusal = MatchUndo((List<object>)entry.Record["operations"], undone, null);
            return refusal == null ? null : String.Format("its label says it rolled back {0}, but {1}", target, refusal);
        }

        /// <summary>
        /// Each operation must equal, field for field, a distinct undo operation of the backup: null when all do; else
        /// the first that does not. refused (when given) receives the index of each operation that does not.
        /// </summary>
        private static string MatchUndo(List<object> operations, Entry backup, List<int> refused)
        {
            List<object> undo = backup.Undo;
            bool[] used = new bool[undo.Count];
            string first = null;
            for (int i = 0; i < operations.Count; i++)
            {
                bool matched = false;
                for (int j = 0; j < undo.Count && !matched; j++)
                {
                    if (used[j] || !BackupJson.Same(operations[i], undo[j]))
                        continue;
                    used[j] = true;
                    matched = true;
                }
                if (matched)
                    continue;
                if (first == null)
                    first = String.Format(CultureInfo.InvariantCulture, "operation {0} is not one of the undo operations of backup {1}", i, backup.Id);
                if (refused != null)
                    refused.Add(i);
            }
            return first;
        }

        // ---- apply ---------------------------------------------------------------------------------------------------

        private sealed class Check
        {
            public int Index;
            public Dictionary<string, object> Op;
            public string Kind;
            public string Subject;
            public string Status;        // refused, apply, unchanged
            public string Reason;
            public object Found;
            public object Current;       // the value found; files: the owner+DACL of the first planned file
            public List<string> Names;   // files: the files planned
        }

        private sealed class Outcome
        {
            public bool Written;         // the write call returned, or the host shows the write happened
            public bool Unknown;         // the write call failed and the host could not be read again: it may have happened
            public bool Verified;
            public object Before;        // the value found immediately before the write (files: of the first file written)
            public object ReadBack;      // the value read back (files: of the first file written)
            public string Error;
            public string Note;          // written, but read back differently
            public object Found;         // the compare-and-swap at write time found this instead of 'expect'
            public List<string> FilesWritten = new List<string>();
            public int FilesSkipped;
        }

        private static bool IsFiles(IDictionary op)
        {
            return Text(op, "op") == "path_security" && Text(op, "target") == "files";
        }

        private static Dictionary<string, object> NewResult(string store)
        {
            return Map("changed", false, "refused", false, "failed", false, "results", new List<object>(), "undo", new List<object>(),
                "backup_id", null, "backup_path", null, "journal", new List<object>(), "pruned", new List<object>(), "msg", "",
                "warnings", new List<object>(), "diff", Map("before", new Dictionary<string, object>(), "after", new Dictionary<string, object>()),
                "store", Map("path", store, "created", new List<object>(), "secured", new List<object>(), "temp_removed", 0L));
        }

        private static Dictionary<string, object> Fail(Dictionary<string, object> result, string msg)
        {
            result["failed"] = true;
            result["msg"] = msg;
            return result;
        }

        /// <summary>
        /// Apply operations with the contract of docs/write-path.md (sections 1-3, 5). Returns the result keys of section 5
        /// plus failed, warnings, diff and store; never writes in check mode. Exceptions escape only from the OS's Step
        /// hook (a simulated crash) or from a bug; a pending record is then resolved by the next apply.
        /// </summary>
        public static Dictionary<string, object> Apply(IHostOs os, object operations, string store, object label, int keepBackups,
            string rollbackOf, bool checkMode)
        {
            Dictionary<string, object> result = NewResult(store);
            List<object> ops = BackupJson.Normalize(operations) as List<object>;
            if (ops == null)
                return Fail(result, "operations must be a list");
            for (int i = 0; i < ops.Count; i++)
            {
                string problem = OpShape.Problem(ops[i], i);
                if (problem != null)
                    return Fail(result, problem);
            }
            if (keepBackups < 1)
                return Fail(result, String.Format(CultureInfo.InvariantCulture, "keep_backups must be 1 or more, not {0}", keepBackups));
            Dictionary<string, object> labels = BackupJson.Normalize(label) as Dictionary<string, object>;
            if (labels == null)
                labels = new Dictionary<string, object>();
            if (rollbackOf == "")
                rollbackOf = null;  // PowerShell passes $null to a string parameter as ""
            string storeProblem = StorePathProblem(store);
            if (storeProblem != null)
                return Fail(result, storeProblem);
            if (checkMode)
            {
                // A dry run writes nothing, so it neither waits for nor blocks a real apply (as _journal.journaled_apply):
                // it judges the host as it is now, pending records in memory.
                Run(os, ops, store, labels, keepBackups, rollbackOf, true, result);
                return result;
            }
            IDisposable held;
            try
            {
                held = os.Lock(LockTimeoutMilliseconds);
            }
            catch (TimeoutException)
            {
                return Fail(result, "another apply holds " + LockName + ": waited 60 seconds, nothing was done");
            }
            catch (UnauthorizedAccessException error)
            {
                // Any account can create a named mutex first and deny the others: that blocks applies (a denial of service,
                // docs/powershell-review.md), it gives nothing to write with. Nothing is done without the lock.
                return Fail(result, String.Format("{0} cannot be opened by this account (another account created it or denies access), " +
                    "nothing was done: {1}", LockName, Message(error)));
            }
            catch (Exception error)
            {
                return Fail(result, String.Format("{0} cannot be taken, nothing was done: {1}", LockName, Message(error)));
            }
            using (held)
            {
                Run(os, ops, store, labels, keepBackups, rollbackOf, checkMode, result);
            }
            return result;
        }

        private static string RollbackTarget(IHostOs os, string store, string id, bool checkMode, out Entry target)
        {
            target = null;
            if (!IsBackupId(id))
                return String.Format("rollback_of {0} is not a backup id", PyText.Quoted(id));
            if (!os.DirectoryExists(Join(store, id)))
                return String.Format("backup {0} is not in the store {1}", id, store);
            Entry entry = LoadEntry(os, store, id);
            if (!entry.SecurityTrusted)
                return String.Format("backup {0} is not trusted: {1}", id, entry.Problem);
            if (entry.Problem != null)
                return String.Format("backup {0} cannot be used: {1}", id, entry.Problem);
            string claim = ClaimProblem(os, store, entry);
            if (claim != null)
                return String.Format("backup {0} is not trusted: {1}", id, claim);  // as its listing says (ListBackups)
            if (checkMode && entry.Status == "pending")
            {
                // Check mode resolves nothing (it writes nothing): the record is judged in memory as the real run will
                // judge it before its rollback (docs/write-path.md section 2; _journal._resolved_in_memory).
                Resolution resolution = Judge(os, entry);
                if (resolution.Action == "discarded")
                    return String.Format("backup {0} was interrupted before its change reached the host: the run discards it, there is nothing to roll back", id);
                if (resolution.Action == "committed")
                {
                    entry.Record = new Dictionary<string, object>(entry.Record);
                    entry.Record["status"] = "committed";
                    entry.Record["undo"] = resolution.Undo;
                }
            }
            if (entry.Status != "committed")
                return String.Format("backup {0} is {1}: what it changed is not known, so it cannot be rolled back", id, entry.Status);
            target = entry;
            return null;
        }

        private static void Refuse(Check check, string reason, object found)
        {
            check.Status = "refused";
            check.Reason = reason;
            check.Found = found;
        }

        private static void CheckOne(IHostOs os, Check check, bool rollback, List<object> warnings)
        {
            Dictionary<string, object> op = check.Op;
            long? serviceType = null;
            if (check.Kind == "registry_value" && !IsCreatableKey(op))
            {
                try
                {
                    serviceType = ServiceType(os, AllowList.ImagePathService(op));
                }
                catch (Exception)
                {
                    serviceType = null;
                }
            }
            string refusal = AllowList.Refusal(op, os.SystemRoot(), serviceType, rollback);
            if (refusal != null)
            {
                Refuse(check, refusal, null);
                return;
            }
            if (check.Kind == "path_security")
            {
                string links;
                try
                {
                    links = SandboxProblem(os, (string)op["path"]);
                    if (links == null)
                        links = PathLinks(os, ((string)op["path"]).TrimEnd('\\'), !IsFiles(op));
                }
                catch (Exception error)
                {
                    // The folder itself not found: said so below. Anything below it that vanished mid-walk: the rest of
                    // the tree was not seen, so nothing is written.
                    bool folderGone = IsNotFound(error) && !os.DirectoryExists(((string)op["path"]).TrimEnd('\\'));
                    links = folderGone ? null : "cannot be read: " + Message(error);
                }
                if (links != null)
                {
                    Refuse(check, check.Subject + ": " + links, null);
                    return;
                }
            }
            if (IsFiles(op))
            {
                CheckFiles(os, check, warnings);
                return;
            }
            Current current;
            try
            {
                current = Read(os, op);
            }
            catch (Exception error)
            {
                Refuse(check, check.Subject + ": cannot be read: " + Message(error), null);
                return;
            }
            check.Current = current.Value;
            if (!current.Found)
                Refuse(check, check.Subject + ": not found on the host", null);
            else if (current.Refusal != null)
                Refuse(check, check.Subject + ": " + current.Refusal, current.Value);
            else if (!Same(op, current.Value, op["expect"]))
                Refuse(check, check.Subject + ": " + Changed(op["expect"], current.Value), current.Value);
            else if (check.Kind == "service_security" && (string)op["set"] == "default")
                Refuse(check, check.Subject + ": cannot write the SCM default descriptor", current.Value);
            if (check.Status != null)
                return;
            if (check.Kind == "registry_value")
            {
                // A key that denies writing is found out now, before anything is written (not after earlier writes).
                string subKey = RegistrySubKey(op);
                string writeProblem = os.RegistryKeyExists(subKey) ? os.RegistryWriteProblem(subKey) : null;
                if (writeProblem != null)
                {
                    Refuse(check, String.Format("{0}: HKLM\\{1} cannot be opened for writing: {2}", check.Subject, subKey, writeProblem), null);
                    return;
                }
            }
            string sddlProblem = null;
            if (check.Kind == "path_security")
                sddlProblem = os.SddlProblem(Sddl.WritablePart((string)op["set"]));
            else if (check.Kind == "service_security")
                sddlProblem = os.SddlProblem((string)op["set"]);
            if (sddlProblem != null)
            {
                Refuse(check, check.Subject + ": 'set' is not valid SDDL: " + sddlProblem, null);
                return;
            }
            bool noop = check.Kind == "service_state"
                ? (string)op["set"] == "started" && current.Value as string == "running"
                : Same(op, current.Value, op["set"]);
            check.Status = noop ? "unchanged" : "apply";
        }

        /// <summary>
        /// Why a self-test sandbox folder (AllowList.SelftestRunId) may not be written because of where it is (docs/selftest.md),
        /// or null (also for any other path): %ProgramData% and backupready-selftest must not be links, and backupready-selftest
        /// must be SYSTEM's and Administrators' alone (TrustProblem), as the self-test makes it. %ProgramData% lets every user
        /// create folders, so a sandbox under a folder anyone else could have made or changed is never taken over.
        /// </summary>
        public static string SandboxProblem(IHostOs os, string path)
        {
            string systemRoot = os.SystemRoot();
            string runId = AllowList.SelftestRunId(path, systemRoot);
            if (runId == null)
                return null;
            string root = AllowList.SelftestRoot(systemRoot);
            // The checks below are of this spelling: a path spelled otherwise (another case) could reach another folder
            // on a volume where an administrator turned case sensitivity on, so it is not written.
            if (path.TrimEnd('\\') != root + "\\" + runId)
                return String.Format("the self-test sandbox is not written: {0} is not spelled {1}, as the self-test makes it",
                    PyText.Quoted(path), PyText.Quoted(root + "\\" + runId));
            string programData = root.Substring(0, root.LastIndexOf('\\'));
            string problem = LinkProblem(os, programData);
            if (problem == null)
                problem = LinkProblem(os, root);
            if (problem == null)
                problem = TrustProblem(root, os.ReadSecurity(root, false));
            if (problem == null)
                return null;
            return "the self-test sandbox is not written: " + problem + " (an administrator who knows nothing else uses it deletes " +
                root + ", and the self-test makes it again)";
        }

        /// <summary>
        /// Why a filemaps / PendingRenames folder may not be written: it, or a file or folder in it, is a link, or (for the
        /// folder's own write) it holds a folder. A folder's DACL write propagates to everything below it and a file's
        /// write reaches every name the file has, so a hard link, junction or symbolic link planted there (filemaps may be
        /// writable by Users when its DACL is broken) would carry the change to a file elsewhere (docs/write-path.md
        /// section 4). Windows sets the folder's own DACL before it propagates, so once the fixed DACL is there no user
        /// can add a name to the folder; a subfolder keeps its own ACEs until propagation reaches it, and one a user
        /// owns or may write to stays open to new links all along. filemaps and PendingRenames hold files only: a folder
        /// with subfolders is not one this collection recognises, and is reported, not written.
        /// </summary>
        private static string PathLinks(IHostOs os, string folder, bool withFiles)
        {
            string problem = LinkProblem(os, folder);
            if (problem != null)
                return problem;
            foreach (string name in os.ListDirectories(folder))
            {
                problem = LinkProblem(os, Join(folder, name));
                if (problem != null)
                    return problem;
                if (withFiles)
                    return String.Format("{0} holds the folder {1}: a folder's permissions reach everything below it, and " +
                        "filemaps and PendingRenames hold files only, so it is not written", folder, PyText.Quoted(name));
            }
            if (withFiles)
            {
                foreach (string name in os.ListFiles(folder))
                {
                    problem = LinkProblem(os, Join(folder, name));
                    if (problem != null)
                        return problem;
                }
            }
            return null;
        }

        private static void CheckFiles(IHostOs os, Check check, List<object> warnings)
        {
            Dictionary<string, object> op = check.Op;
            string folder = ((string)op["path"]).TrimEnd('\\');
            try
            {
                if (!os.DirectoryExists(folder))
                {
                    Refuse(check, check.Subject + ": not found on the host", null);
                    return;
                }
                HashSet<string> only = null;
                if (op.ContainsKey("names"))
                {
                    only = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    foreach (object name in (List<object>)op["names"])
                        only.Add((string)name);
                }
                List<object> distinct = new List<object>();
                List<string> names = new List<string>();
                int unreadable = 0;
                foreach (string name in os.ListFiles(folder))
                {
                    string file = Join(folder, name);
                    string sddl = null;
                    string link;
                    try
                    {
                        using (IHostObject opened = os.OpenObject(file, false))
                        {
                            link = LinkProblem(opened, file);
                            if (link == null)
                                sddl = Sddl.OwnerAndDacl(opened.ReadSecurity());
                        }
                    }
                    catch (Exception)
                    {
                        unreadable++;
                        continue;
                    }
                    if (link != null)
                    {
                        Refuse(check, check.Subject + ": " + link, null);
                        return;
                    }
                    if (!distinct.Contains(sddl))
                        distinct.Add(sddl);
                    if (Sddl.SameWritablePart(sddl, (string)op["expect"]) && (only == null || only.Contains(name)))
                    {
                        if (names.Count == 0)
                            check.Current = sddl;
                        names.Add(name);
                    }
                }
                if (unreadable > 0)
                    warnings.Add(String.Format(CultureInfo.InvariantCulture, "{0}: the security of {1} file(s) cannot be read; they are left out of {2}",
                        folder, unreadable, check.Subject));
                check.Names = names;
                if (names.Count == 0)
                {
                    Refuse(check, String.Format("{0}: no file has the expected descriptor {1}", check.Subject, PyText.Shown(op["expect"])), distinct);
                    return;
                }
            }
            catch (Exception error)
            {
                Refuse(check, check.Subject + ": cannot be read: " + Message(error), null);
                return;
            }
            string sddlProblem = os.SddlProblem(Sddl.WritablePart((string)op["set"]));
            if (sddlProblem != null)
            {
                Refuse(check, check.Subject + ": 'set' is not valid SDDL: " + sddlProblem, null);
                return;
            }
            check.Status = Sddl.SameWritablePart((string)op["expect"], (string)op["set"]) ? "unchanged" : "apply";
        }

        private static Dictionary<string, object> UndoBase(IDictionary op)
        {
            Dictionary<string, object> undo = new Dictionary<string, object>();
            foreach (DictionaryEntry entry in op)
            {
                string key = (string)entry.Key;
                if (key != "expect" && key != "set" && key != "names")
                    undo[key] = entry.Value;
            }
            return undo;
        }

        /// <summary>The undo of an operation about to be written (the pending record): expect = what will be written.</summary>
        private static Dictionary<string, object> PendingUndo(Check check)
        {
            Dictionary<string, object> undo = UndoBase(check.Op);
            if (check.Kind == "service_state")
            {
                undo["expect"] = check.Current;
                undo["set"] = "none";
                undo["note"] = "not undoable: recorded only";
                return undo;
            }
            undo["expect"] = check.Op["set"];
            undo["set"] = check.Current;
            if (IsFiles(check.Op))
            {
                // The files had the operation's expect (compared by writable part): the same record as the twin's.
                undo["set"] = check.Op["expect"];
                undo["names"] = new List<object>(check.Names.ToArray());
            }
            return undo;
        }

        /// <summary>The undo of what was written (the committed record): expect = what was read back after the write.</summary>
        private static Dictionary<string, object> CommittedUndo(Check check, Outcome outcome)
        {
            Dictionary<string, object> undo = UndoBase(check.Op);
            if (check.Kind == "service_state")
            {
                undo["expect"] = outcome.Before;
                undo["set"] = "none";
                undo["note"] = "not undoable: recorded only";
                return undo;
            }
            undo["expect"] = outcome.ReadBack != null ? outcome.ReadBack : check.Op["set"];
            undo["set"] = outcome.Before;
            if (IsFiles(check.Op))
            {
                // One descriptor for many files: the one planned, each named file having been read back against it
                // (as _journal._written_undo); the first file's read-back would speak for the others.
                undo["expect"] = check.Op["set"];
                undo["set"] = check.Op["expect"];
                undo["names"] = new List<object>(outcome.FilesWritten.ToArray());
            }
            return undo;
        }

        private static void Run(IHostOs os, List<object> ops, string store, Dictionary<string, object> labels, int keepBackups,
            string rollbackOf, bool checkMode, Dictionary<string, object> result)
        {
            // 0. The store must be one this collection made, reached without a link (docs/write-path.md section 4): else
            // nothing is written, not even its protection. Check mode asks the same, and writes nothing.
            StorePlan plan;
            try
            {
                plan = PlanStore(os, store);
            }
            catch (StoreRefused error)
            {
                Fail(result, String.Format("the backup store {0} cannot be used, nothing was written: {1}", store, Message(error)));
                return;
            }
            catch (Exception error)
            {
                Fail(result, String.Format("the backup store {0} cannot be read, nothing was written: {1}", store, Message(error)));
                return;
            }
            // 1-2. Protect the store, remove temporary files, resolve pending records (not in check mode: they write).
            if (!checkMode)
            {
                try
                {
                    Maintain(os, store, plan, result);
                }
                catch (Exception error)
                {
                    Fail(result, String.Format("the backup store {0} could not be maintained, nothing was changed: {1}", store, Message(error)));
                    return;
                }
            }
            // 3. Check every operation, all before anything is written. A rollback (rollback_of, or a label naming one: the
            // same request) is verified against its backup first; a label and a rollback_of naming two backups are refused.
            string whole = null;
            object claimed;
            if (labels.TryGetValue("rollback_of", out claimed) && claimed != null)
            {
                string claimedId = claimed as string;
                if (rollbackOf != null && claimedId != rollbackOf)
                    whole = String.Format("the label names backup {0} but the rollback is of {1}", PyText.Shown(claimed), PyText.Quoted(rollbackOf));
                else if (claimedId == null)
                    whole = String.Format("the label names backup {0}, which is not a backup id", PyText.Shown(claimed));
                else
                    rollbackOf = claimedId;
            }
            Entry target = null;
            List<int> notUndo = new List<int>();
            if (whole == null && rollbackOf != null)
            {
                labels["rollback_of"] = rollbackOf;
                whole = RollbackTarget(os, store, rollbackOf, checkMode, out target);
                if (target != null)
                    MatchUndo(ops, target, notUndo);
            }
            List<object> warnings = (List<object>)result["warnings"];
            List<Check> checks = new List<Check>();
            List<string> refusals = new List<string>();
            for (int i = 0; i < ops.Count; i++)
            {
                Check check = new Check();
                check.Index = i;
                check.Op = (Dictionary<string, object>)ops[i];
                check.Kind = (string)check.Op["op"];
                check.Subject = Subject(check.Op);
                if (whole != null)
                    Refuse(check, AllowList.Outside + ": " + whole, null);
                else if (notUndo.Contains(i))
                    Refuse(check, String.Format("{0}: not one of the undo operations of backup {1}", AllowList.Outside, rollbackOf), null);
                else
                    CheckOne(os, check, rollbackOf != null, warnings);
                if (check.Status == "refused")
                    refusals.Add(check.Reason);
                checks.Add(check);
            }
            List<object> results = (List<object>)result["results"];
            if (refusals.Count > 0 || whole != null)
            {
                foreach (Check check in checks)
                {
                    Dictionary<string, object> entry = ResultOf(check, check.Status == "apply" ? "not_run" : check.Status);
                    if (check.Status == "refused")
                    {
                        entry["reason"] = check.Reason;
                        entry["found"] = check.Found;
                    }
                    results.Add(entry);
                }
                result["refused"] = true;
                if (whole != null)
                    Fail(result, AllowList.Outside + ": " + whole + "; nothing written");
                else
                    Fail(result, String.Format(CultureInfo.InvariantCulture, "{0} of {1} operation(s) refused, nothing written: {2}",
                        refusals.Count, ops.Count, String.Join("; ", refusals.ToArray())));
                return;
            }
            List<object> undo = (List<object>)result["undo"];
            Dictionary<string, object> diff = (Dictionary<string, object>)result["diff"];
            int toApply = 0;
            foreach (Check check in checks)
            {
                if (check.Status != "apply")
                    continue;
                toApply++;
                undo.Add(PendingUndo(check));
                if (IsFiles(check.Op))
                {
                    ((Dictionary<string, object>)diff["before"])[check.Subject] = Map("descriptor", check.Op["expect"], "files", new List<object>(check.Names.ToArray()));
                    ((Dictionary<string, object>)diff["after"])[check.Subject] = Map("descriptor", check.Op["set"], "files", new List<object>(check.Names.ToArray()));
                }
                else
                {
                    ((Dictionary<string, object>)diff["before"])[check.Subject] = check.Current;
                    ((Dictionary<string, object>)diff["after"])[check.Subject] = check.Op["set"];
                }
            }
            // 4. Check mode stops here.
            if (checkMode)
            {
                foreach (Check check in checks)
                    results.Add(ResultOf(check, check.Status == "apply" ? "would_apply" : check.Status));
                result["changed"] = toApply > 0;
                result["msg"] = String.Format(CultureInfo.InvariantCulture, "check mode: {0} operation(s) would be applied, {1} unchanged",
                    toApply, checks.Count - toApply);
                return;
            }
            if (toApply == 0)
            {
                foreach (Check check in checks)
                    results.Add(ResultOf(check, check.Status));
                result["msg"] = String.Format(CultureInfo.InvariantCulture, "nothing to do: {0} operation(s) unchanged", checks.Count) + Notes(result);
                return;
            }
            // 5. The pending record, before the first write.
            string id = NewId(os);
            string folder = Join(store, id);
            Dictionary<string, object> record = Map("format", RecordFormat, "writer", RecordWriter, "id", id, "host", os.HostName(),
                "created", CreatedOfId(id), "status", "pending", "operations", ops, "undo", new List<object>(undo), "results", new List<object>(),
                "label", labels);
            try
            {
                SecureStore(os, PlanStore(os, store), true, (Dictionary<string, object>)result["store"]);
                os.CreateDirectory(folder, StoreSddl);
                WriteRecord(os, folder, record);
            }
            catch (Exception error)
            {
                foreach (Check check in checks)
                    results.Add(ResultOf(check, check.Status == "apply" ? "not_run" : check.Status));
                Fail(result, String.Format("the backup record could not be written to {0}, nothing was changed: {1}", folder, Message(error)));
                return;
            }
            result["backup_id"] = id;
            result["backup_path"] = Join(folder, RecordFile);
            os.Step("pending_written", -1);
            // 6. Write in order; compare again immediately before each write; read back after it.
            List<object> committed = new List<object>();
            List<string> written = new List<string>();
            List<string> unknown = new List<string>();
            string failure = null;
            foreach (Check check in checks)
            {
                Dictionary<string, object> entry = ResultOf(check, check.Status);
                results.Add(entry);
                if (check.Status != "apply")
                    continue;
                if (failure != null)
                {
                    entry["status"] = "not_run";
                    continue;
                }
                Outcome outcome = Write(os, check);
                if (outcome.Written)
                {
                    committed.Add(CommittedUndo(check, outcome));
                    written.Add(check.Subject);
                }
                if (outcome.Unknown)
                    unknown.Add(check.Subject);
                if (IsFiles(check.Op))
                {
                    entry["files_changed"] = (long)outcome.FilesWritten.Count;
                    entry["files_skipped"] = (long)outcome.FilesSkipped;
                }
                if (outcome.Error != null)
                {
                    entry["status"] = "failed";
                    entry["reason"] = outcome.Written ? outcome.Error + "; the host shows the change was made (it is in the undo)" : outcome.Error;
                    if (outcome.Found != null)
                        entry["found"] = outcome.Found;
                }
                else if (!outcome.Verified)
                {
                    entry["status"] = "written_unverified";
                    entry["reason"] = outcome.Note != null ? outcome.Note : String.Format("written, but read back {0} after writing {1}",
                        PyText.Shown(outcome.ReadBack), PyText.Shown(check.Op["set"]));
                }
                else
                {
                    entry["status"] = "applied";
                }
                if ((string)entry["status"] != "applied")
                    failure = String.Format(CultureInfo.InvariantCulture, "operation {0} ({1}) {2}: {3}", check.Index, check.Subject,
                        (string)entry["status"] == "failed" ? "failed" : "was written but read back differently", entry["reason"]);
            }
            result["changed"] = written.Count > 0 || unknown.Count > 0;
            result["undo"] = committed;
            // 7. Complete the record with the undo of what was written only; none written: delete it. When whether a write
            // reached the host cannot be told, the record stays pending with the undo of every planned change: the next
            // apply judges each against the host (section 3), as after a crash; deleting it could lose a change made.
            try
            {
                if (unknown.Count > 0)
                    failure = String.Format("{0}; whether {1} reached the host cannot be told, so the backup record stays pending and the next apply resolves it against the host",
                        failure, String.Join(" and ", unknown.ToArray()));
                else if (written.Count == 0)
                {
                    DeleteEntry(os, folder);
                    result["backup_id"] = null;
                    result["backup_path"] = null;
                }
                else
                {
                    record["status"] = "committed";
                    record["undo"] = committed;
                    record["results"] = new List<object>(results);
                    WriteRecord(os, folder, record);
                }
                os.Step("committed", -1);
            }
            catch (Exception error)
            {
                string what = written.Count == 0 ? "its empty pending record could not be deleted" : "its record could not be completed";
                failure = (failure == null ? "" : failure + "; ") + String.Format("{0} ({1}): the next apply resolves it", what, Message(error));
            }
            string backup = result["backup_path"] == null ? "none (nothing was written)" : (string)result["backup_path"];
            if (failure != null)
            {
                Fail(result, String.Format("{0}. Written: {1}. Backup: {2}", failure,
                    written.Count == 0 ? "nothing" : String.Join("; ", written.ToArray()), backup) + Notes(result));
                return;
            }
            // 8. Retention, after a successful apply; the record just written is always kept.
            try
            {
                Prune(os, store, keepBackups, id, result);
            }
            catch (Exception error)
            {
                warnings.Add("older backups could not be pruned: " + Message(error));
            }
            result["msg"] = String.Format(CultureInfo.InvariantCulture, "{0} operation(s) applied, {1} unchanged; backup: {2}",
                written.Count, checks.Count - toApply, backup) + Notes(result);
        }

        private static Dictionary<string, object> ResultOf(Check check, string status)
        {
            return Map("index", (long)check.Index, "op", check.Kind, "subject", check.Subject, "status", status);
        }

        private static string Notes(Dictionary<string, object> result)
        {
            List<string> notes = new List<string>();
            foreach (object item in (List<object>)result["journal"])
            {
                Dictionary<string, object> entry = (Dictionary<string, object>)item;
                notes.Add(String.Format("earlier record {0} {1}", entry["id"], ((string)entry["action"]).Replace('_', ' ')));
            }
            int pruned = ((List<object>)result["pruned"]).Count;
            if (pruned > 0)
                notes.Add(String.Format(CultureInfo.InvariantCulture, "{0} older backup(s) pruned", pruned));
            foreach (object secured in (List<object>)((Dictionary<string, object>)result["store"])["secured"])
                notes.Add("re-protected " + secured);
            return notes.Count == 0 ? "" : " (" + String.Join("; ", notes.ToArray()) + ")";
        }

        private static string NewId(IHostOs os)
        {
            return os.UtcNow().ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture) + "-" + os.NewIdSuffix();
        }

        private static void DoWrite(IHostOs os, Dictionary<string, object> op)
        {
            string kind = (string)op["op"];
            if (kind == "registry_value")
                os.RegistryWrite(RegistrySubKey(op), (string)op["name"], (IDictionary)op["set"], IsCreatableKey(op));
            else if (kind == "service_start_mode")
                os.SetServiceStartMode((string)op["service"], (string)op["set"]);
            else if (kind == "service_security")
                os.SetServiceDacl((string)op["service"], Sddl.DaclPart((string)op["set"]));
            else
                os.WriteSecurity(((string)op["path"]).TrimEnd('\\'), Sddl.WritablePart((string)op["set"]));
        }

        private static Outcome Write(IHostOs os, Check check)
        {
            if (IsFiles(check.Op))
                return WriteFiles(os, check);
            if (check.Kind == "path_security")
                return WriteFolder(os, check);
            if (check.Kind == "service_state")
                return WriteState(os, check);
            Outcome outcome = new Outcome();
            Dictionary<string, object> op = check.Op;
            Current now;
            try
            {
                now = Read(os, op);
            }
            catch (Exception error)
            {
                outcome.Error = "cannot be read before its write: " + Message(error);
                return outcome;
            }
            if (!now.Found)
            {
                outcome.Error = "no longer found on the host";
                return outcome;
            }
            if (!StillExpected(os, check, outcome, now.Value))
                return outcome;
            try
            {
                DoWrite(os, op);
                outcome.Written = true;
            }
            catch (Exception error)
            {
                outcome.Error = "the write failed: " + Message(error);
                try
                {
                    Current again = Read(os, op);
                    if (again.Found && !Same(op, again.Value, now.Value))
                    {
                        outcome.Written = true;
                        outcome.ReadBack = again.Value;
                    }
                }
                catch (Exception)
                {
                    CannotTell(outcome, "it");
                }
                return outcome;
            }
            os.Step("written", check.Index);
            try
            {
                Current after = Read(os, op);
                outcome.ReadBack = after.Value;
                outcome.Verified = after.Found && Same(op, after.Value, op["set"]);
            }
            catch (Exception error)
            {
                outcome.Error = "written, but it cannot be read back: " + Message(error);
            }
            return outcome;
        }

        /// <summary>
        /// The compare-and-swap immediately before a write (docs/write-path.md section 1): false, with the value found, when
        /// the host changed since the check; else the value is the one the write replaces, and the write may start.
        /// </summary>
        private static bool StillExpected(IHostOs os, Check check, Outcome outcome, object now)
        {
            if (!Same(check.Op, now, check.Op["expect"]))
            {
                outcome.Error = Changed(check.Op["expect"], now);
                outcome.Found = now;
                return false;
            }
            outcome.Before = now;
            os.Step("write", check.Index);
            return true;
        }

        // A write call failed and what it addresses cannot be read again: the write may have reached the host.
        private static void CannotTell(Outcome outcome, string what)
        {
            outcome.Unknown = true;
            outcome.Error += String.Format("; {0} cannot be read again, so whether the write reached the host cannot be told", what);
        }

        /// <summary>A folder's owner and DACL: read, compared, written and read back on one handle; a link is never written.</summary>
        private static Outcome WriteFolder(IHostOs os, Check check)
        {
            Outcome outcome = new Outcome();
            Dictionary<string, object> op = check.Op;
            string folder = ((string)op["path"]).TrimEnd('\\');
            IHostObject opened;
            try
            {
                opened = os.OpenObject(folder, true);
            }
            catch (Exception error)
            {
                outcome.Error = IsNotFound(error) ? "no longer found on the host" : "cannot be read before its write: " + Message(error);
                return outcome;
            }
            using (opened)
            {
                string now;
                try
                {
                    string link = LinkProblem(opened, folder);
                    if (link == null)
                        link = PathLinks(os, folder, true);  // again, right before the write: links made since the check
                    if (link == null)
                        link = SandboxProblem(os, folder);  // and the sandbox's parents, for a self-test sandbox
                    if (link != null)
                    {
                        outcome.Error = link + ": nothing is written to it";
                        return outcome;
                    }
                    now = Sddl.OwnerAndDacl(opened.ReadSecurity());
                }
                catch (Exception error)
                {
                    outcome.Error = "cannot be read before its write: " + Message(error);
                    return outcome;
                }
                if (!StillExpected(os, check, outcome, now))
                    return outcome;
                try
                {
                    opened.WriteSecurity(Sddl.WritablePart((string)op["set"]));
                    outcome.Written = true;
                }
                catch (Exception error)
                {
                    outcome.Error = "the write failed: " + Message(error);
                    try
                    {
                        string again = Sddl.OwnerAndDacl(opened.ReadSecurity());
                        if (!Same(op, again, now))
                        {
                            outcome.Written = true;
                            outcome.ReadBack = again;
                        }
                    }
                    catch (Exception)
                    {
                        CannotTell(outcome, "it");
                    }
                    return outcome;
                }
                os.Step("written", check.Index);
                try
                {
                    string after = Sddl.OwnerAndDacl(opened.ReadSecurity());
                    outcome.ReadBack = after;
                    outcome.Verified = Same(op, after, op["set"]);
                }
                catch (Exception error)
                {
                    outcome.Error = "written, but it cannot be read back: " + Message(error);
                }
            }
            return outcome;
        }

        private static Outcome WriteState(IHostOs os, Check check)
        {
            Outcome outcome = new Outcome();
            Dictionary<string, object> op = check.Op;
            string service = (string)op["service"];
            string now;
            try
            {
                now = os.ServiceState(service);
            }
            catch (Exception error)
            {
                outcome.Error = "cannot be read before its write: " + Message(error);
                return outcome;
            }
            if (now == null)
            {
                outcome.Error = "no longer found on the host";
                return outcome;
            }
            if (!StillExpected(os, check, outcome, now))
                return outcome;
            try
            {
                if ((string)op["set"] == "started")
                    os.StartService(service);
                else
                    os.RestartService(service);
                outcome.Written = true;
            }
            catch (Exception error)
            {
                outcome.Error = String.Format("the {0} failed: {1}", (string)op["set"] == "started" ? "start" : "restart", Message(error));
                try
                {
                    string again = os.ServiceState(service);
                    outcome.Written = again != now;
                    outcome.ReadBack = again;
                }
                catch (Exception)
                {
                    CannotTell(outcome, "its state");
                }
                return outcome;
            }
            os.Step("written", check.Index);
            string state = null;
            for (int waited = 0; ; waited += ServicePollMilliseconds)
            {
                try
                {
                    state = os.ServiceState(service);
                }
                catch (Exception error)
                {
                    outcome.Error = "started, but its state cannot be read: " + Message(error);
                    return outcome;
                }
                if (state == "running" || waited >= ServiceTimeoutMilliseconds)
                    break;
                os.Sleep(ServicePollMilliseconds);
            }
            outcome.ReadBack = state;
            outcome.Verified = state == "running";
            if (!outcome.Verified)
                outcome.Note = String.Format(CultureInfo.InvariantCulture, "service {0} is not running {1} seconds after being {2} (state {3})",
                    service, ServiceTimeoutMilliseconds / 1000, op["set"], PyText.Shown(state));
            return outcome;
        }

        private static Outcome WriteFiles(IHostOs os, Check check)
        {
            Outcome outcome = new Outcome();
            Dictionary<string, object> op = check.Op;
            string folder = ((string)op["path"]).TrimEnd('\\');
            string expect = (string)op["expect"];
            string wanted = (string)op["set"];
            string text = Sddl.WritablePart(wanted);
            bool stepped = false;
            foreach (string name in check.Names)
            {
                // One handle per file for the compare, the write and the read-back: the name cannot be pointed at another
                // file in between, and a file that became a link since the check is never written.
                string file = Join(folder, name);
                IHostObject opened;
                string now;
                try
                {
                    opened = os.OpenObject(file, true);
                }
                catch (Exception)
                {
                    outcome.FilesSkipped++;  // gone, or it cannot be opened: nothing is written to it
                    continue;
                }
                using (opened)
                {
                    try
                    {
                        string link = LinkProblem(opened, file);
                        if (link != null)
                        {
                            outcome.Error = link + ": it became a link since it was checked, nothing is written to it";
                            break;
                        }
                        now = Sddl.OwnerAndDacl(opened.ReadSecurity());
                    }
                    catch (Exception)
                    {
                        outcome.FilesSkipped++;
                        continue;
                    }
                    if (!Sddl.SameWritablePart(now, expect))
                    {
                        outcome.FilesSkipped++;  // the per-file compare-and-swap: a file changed since it was read is left alone
                        continue;
                    }
                    if (!stepped)
                    {
                        os.Step("write", check.Index);
                        stepped = true;
                    }
                    try
                    {
                        opened.WriteSecurity(text);
                    }
                    catch (Exception error)
                    {
                        outcome.Error = String.Format("the write of {0} failed: {1}", name, Message(error));
                        try
                        {
                            string again = Sddl.OwnerAndDacl(opened.ReadSecurity());
                            if (!Sddl.SameWritablePart(again, now))
                                Written(outcome, name, now, again);
                        }
                        catch (Exception)
                        {
                            CannotTell(outcome, name);
                        }
                        break;
                    }
                    string after;
                    try
                    {
                        after = Sddl.OwnerAndDacl(opened.ReadSecurity());
                    }
                    catch (Exception error)
                    {
                        Written(outcome, name, now, null);
                        outcome.Error = String.Format("{0} was written but cannot be read back: {1}", name, Message(error));
                        break;
                    }
                    Written(outcome, name, now, after);
                    if (!Sddl.SameWritablePart(after, wanted))
                    {
                        outcome.Note = String.Format("{0} read back {1} after writing {2}", name, PyText.Shown(after), PyText.Shown(wanted));
                        break;
                    }
                }
            }
            if (stepped)
                os.Step("written", check.Index);
            outcome.Written = outcome.FilesWritten.Count > 0;
            outcome.Verified = outcome.Written && outcome.Note == null && outcome.Error == null;
            if (!outcome.Written && outcome.Error == null)
                outcome.Error = String.Format(CultureInfo.InvariantCulture, "0 of {0} file(s) written: each one changed since it was read", check.Names.Count);
            return outcome;
        }

        private static void Written(Outcome outcome, string name, string before, string after)
        {
            outcome.FilesWritten.Add(name);
            if (outcome.Before == null)
            {
                outcome.Before = before;
                outcome.ReadBack = after;
            }
        }

        // ---- the probe's reads -----------------------------------------------------------------------------------------

        /// <summary>
        /// win_backup_state's backup listing: the store ({path, exists, owner, sddl, secure}) and its count newest backups
        /// ([{id, created, record, trusted, error}], newest first). An untrusted entry is listed with trusted false and
        /// why, its record not returned; only trusted entries carry their record's text.
        /// </summary>
        public static Dictionary<string, object> ListBackups(IHostOs os, string store, int count)
        {
            Dictionary<string, object> info = Map("path", store, "exists", false, "owner", null, "sddl", null, "secure", false, "error", null);
            List<object> backups = new List<object>();
            Dictionary<string, object> listing = Map("store", info, "backups", backups);
            string refused = StorePathProblem(store);
            if (refused != null)
            {
                info["error"] = refused;
                return listing;
            }
            try
            {
                PlanStore(os, store);
            }
            catch (StoreRefused error)
            {
                refused = Message(error);  // a link on the way, or a folder this collection did not make: nothing in it is listed
            }
            catch (Exception)
            {
                refused = null;  // what cannot be read is said below
            }
            if (!os.DirectoryExists(store))
            {
                info["error"] = refused;
                return listing;
            }
            info["exists"] = true;
            try
            {
                string sddl = Sddl.OwnerAndDacl(os.ReadSecurity(store, false));
                info["sddl"] = sddl;
                info["owner"] = Sddl.Parse(sddl).Owner;
                string problem = InsecureFolder(store, sddl);
                info["secure"] = problem == null;
                info["error"] = problem;
            }
            catch (Exception error)
            {
                info["error"] = store + ": its security cannot be read: " + Message(error);
            }
            if (refused != null)
            {
                info["secure"] = false;
                info["error"] = refused + "; its backups are not listed";
                return listing;
            }
            List<string> ids = EntryIds(os, store);
            ids.Reverse();
            for (int i = 0; i < ids.Count && i < count; i++)
            {
                Entry entry = LoadEntry(os, store, ids[i]);
                string problem = entry.Problem;
                if (problem == null)
                    problem = ClaimProblem(os, store, entry);
                bool trusted = problem == null;
                backups.Add(Map("id", entry.Id, "created", CreatedOfId(entry.Id), "record", trusted ? entry.Text : null,
                    "trusted", trusted, "error", problem));
            }
            return listing;
        }

        /// <summary>
        /// The probe's filemaps / PendingRenames section: {path, exists, sddl, error, files?}. The folder and every file
        /// are read raw (owner, group, DACL and the SACL when it can be read); files are grouped by descriptor text in
        /// the order first seen, with up to samples names each. A part that fails says so in error: never "absent".
        /// </summary>
        public static Dictionary<string, object> PathSecurity(IHostOs os, string path, bool withFiles, int samples)
        {
            Dictionary<string, object> section = Map("path", path, "exists", false, "sddl", null, "error", null);
            if (withFiles)
                section["files"] = null;
            try
            {
                section["exists"] = os.DirectoryExists(path);
            }
            catch (Exception error)
            {
                section["exists"] = null;
                section["error"] = path + ": whether it exists cannot be told: " + Message(error);
                return section;
            }
            if (!(bool)section["exists"])
                return section;
            bool withSacl = true;
            try
            {
                section["sddl"] = os.ReadSecurity(path, true);
            }
            catch (Exception)
            {
                withSacl = false;
                try
                {
                    section["sddl"] = os.ReadSecurity(path, false);
                }
                catch (Exception error)
                {
                    section["error"] = path + " security cannot be read: " + Message(error);
                }
            }
            if (!withFiles)
                return section;
            try
            {
                Dictionary<string, Dictionary<string, object>> groups = new Dictionary<string, Dictionary<string, object>>(StringComparer.Ordinal);
                List<object> order = new List<object>();
                Dictionary<string, object> unreadable = null;
                string[] names = os.ListFiles(path);
                foreach (string name in names)
                {
                    string file = Join(path, name);
                    string sddl = null;
                    try
                    {
                        sddl = os.ReadSecurity(file, withSacl);
                    }
                    catch (Exception)
                    {
                        try
                        {
                            sddl = withSacl ? os.ReadSecurity(file, false) : null;
                        }
                        catch (Exception)
                        {
                            sddl = null;
                        }
                    }
                    Dictionary<string, object> group;
                    if (sddl == null)
                    {
                        if (unreadable == null)
                        {
                            unreadable = Map("sddl", null, "count", 0L, "samples", new List<object>());
                            order.Add(unreadable);
                        }
                        group = unreadable;
                    }
                    else if (!groups.TryGetValue(sddl, out group))
                    {
                        group = Map("sddl", sddl, "count", 0L, "samples", new List<object>());
                        groups[sddl] = group;
                        order.Add(group);
                    }
                    group["count"] = (long)group["count"] + 1;
                    List<object> groupSamples = (List<object>)group["samples"];
                    if (groupSamples.Count < samples)
                        groupSamples.Add(name);
                }
                section["files"] = Map("count", (long)names.Length, "descriptors", order);
            }
            catch (Exception error)
            {
                string listing = path + " files cannot be listed: " + Message(error);
                section["error"] = section["error"] == null ? listing : section["error"] + "; " + listing;
            }
            return section;
        }
    }

    /// <summary>
    /// The folder of the self-test sandbox on a live host (docs/selftest.md; win_backup_sandbox.ps1 makes its services):
    /// %ProgramData%\backupready-selftest (SYSTEM and Administrators only, made here or refused unless it is theirs alone
    /// and not a link) holding one folder per run whose DACL mimics a broken filemaps (a deny of read to Users), with three
    /// files that inherit from it. The folder is made open to SYSTEM and Administrators, the files written, then its DACL
    /// set (propagated to the files through a handle opened with backup intent). Remove deletes exactly that: a run folder holding anything but files, or reached through a link,
    /// is refused and left as it is.
    /// </summary>
    public static class SelftestSandbox
    {
        // Owner SYSTEM (an owner the filemaps policy accepts) and a deny of read to Users: no user may write in it.
        public const string FolderSddl = "O:SYG:SYD:PAI(D;OICI;FR;;;BU)(A;OICI;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;OICI;0x1200a9;;;BA)";
        // Owner Backup Operators (not an owner the filemaps policy accepts; its members may read and write any file through
        // their privileges already) and no explicit ACE: the file inherits the folder's.
        public const string FileSddl = "O:BOG:SYD:AI";
        public const string OpenSddl = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
        public static readonly string[] FileNames = new string[] { "$$_selftest_0001.cdf-ms", "$$_selftest_0002.cdf-ms", "$$_selftest_0003.cdf-ms" };

        /// <summary>The run's folder; ArgumentException when the run id is not 8 to 32 ASCII letters and digits.</summary>
        public static string Folder(IHostOs os, string runId)
        {
            string root = AllowList.SelftestRoot(os.SystemRoot());
            if (root == null || runId == null || AllowList.SelftestRunId(root + "\\" + runId, os.SystemRoot()) != runId)
                throw new ArgumentException("run_id must be 8 to 32 ASCII letters and digits, not " + PyText.Quoted(runId ?? ""));
            return root + "\\" + runId;
        }

        /// <summary>True for the two service names of the run (backupready-selftest-&lt;run id&gt; and its -drv).</summary>
        public static bool IsServiceOfRun(string service, string runId)
        {
            string name = AllowList.SelftestServicePrefix + runId;
            return String.Equals(service, name, StringComparison.OrdinalIgnoreCase) ||
                String.Equals(service, name + "-drv", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>True when op changes nothing but the sandbox of runId (_selftest.op_of_run): the ImagePath or the
        /// descriptor of one of its two services, its folder (exactly the sandbox spelling), or the one ExcludedBinaryPaths
        /// entry inside its folder.</summary>
        public static bool IsOpOfRun(string systemRoot, object value, string runId)
        {
            Dictionary<string, object> op = value as Dictionary<string, object>;
            string folder = AllowList.SelftestRoot(systemRoot);
            if (op == null || folder == null)
                return false;
            folder = folder + "\\" + runId;
            string kind = Field(op, "op");
            if (kind == "service_security")
                return Field(op, "service") != null && IsServiceOfRun(Field(op, "service"), runId);
            if (kind == "path_security")
                return Field(op, "path") == folder;
            string key = Field(op, "key");
            string name = Field(op, "name");
            if (kind != "registry_value" || key == null || name == null)
                return false;
            string lowered = PyText.Lower(AllowList.NormaliseKey(key));
            if (lowered == PyText.Lower(AllowList.SystemWriterKey))
                return PyText.Lower(name) == PyText.Lower(AllowList.ExcludedBinaryPaths) &&
                    OnlyTheEntry(op, folder + "\\Self Test\\selftest.exe");
            string prefix = PyText.Lower(AllowList.ServicesKey) + "\\";
            return lowered.StartsWith(prefix, StringComparison.Ordinal) && IsServiceOfRun(lowered.Substring(prefix.Length), runId) &&
                PyText.Lower(name) == "imagepath";
        }

        /// <summary>True for a record whose operations (one or more) and undo operations are all IsOpOfRun.</summary>
        public static bool IsBackupOfRun(string systemRoot, Dictionary<string, object> record, string runId)
        {
            object operations;
            object undo;
            if (record == null || !record.TryGetValue("operations", out operations) || !record.TryGetValue("undo", out undo))
                return false;
            List<object> ops = operations as List<object>;
            List<object> undos = undo as List<object>;
            if (ops == null || undos == null || ops.Count == 0)
                return false;
            foreach (object op in ops)
                if (!IsOpOfRun(systemRoot, op, runId))
                    return false;
            foreach (object op in undos)
                if (!IsOpOfRun(systemRoot, op, runId))
                    return false;
            return true;
        }

        private static string Field(Dictionary<string, object> op, string key)
        {
            object value;
            return op.TryGetValue(key, out value) ? value as string : null;
        }

        // The entries of a REG_MULTI_SZ (a missing value has none); null for anything else.
        private static List<string> Multi(object value)
        {
            Dictionary<string, object> regValue = value as Dictionary<string, object>;
            if (regValue == null)
                return null;
            string kind = Field(regValue, "kind");
            if (kind == "missing")
                return new List<string>();
            object data;
            List<object> items = kind == "REG_MULTI_SZ" && regValue.TryGetValue("data", out data) ? data as List<object> : null;
            if (items == null)
                return null;
            List<string> entries = new List<string>();
            foreach (object item in items)
            {
                if (!(item is string))
                    return null;
                entries.Add((string)item);
            }
            return entries;
        }

        // One of expect and set is the other with exactly one more entry, and that entry is the sandbox's.
        /// <summary>True when an ExcludedBinaryPaths value (as RegistryRead gives it) holds the run's sandbox entry.</summary>
        public static bool HoldsTheEntry(IHostOs os, Dictionary<string, object> value, string runId)
        {
            if (value == null)
                return false;
            object data;
            List<object> entries = value.TryGetValue("data", out data) ? data as List<object> : null;
            if (entries == null)
                return false;
            string entry = Folder(os, runId) + "\\Self Test\\selftest.exe";
            foreach (object item in entries)
            {
                string text = item as string;
                if (text != null && String.Equals(text, entry, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
            return false;
        }

        private static bool OnlyTheEntry(Dictionary<string, object> op, string entry)
        {
            object expect;
            object set;
            op.TryGetValue("expect", out expect);
            op.TryGetValue("set", out set);
            List<string> before = Multi(expect);
            List<string> after = Multi(set);
            if (before == null || after == null || Math.Abs(before.Count - after.Count) != 1)
                return false;
            List<string> longer = after.Count > before.Count ? after : before;
            List<string> shorter = after.Count > before.Count ? before : after;
            for (int i = 0; i < longer.Count; i++)
            {
                if (PyText.Lower(longer[i]) != PyText.Lower(entry))
                    continue;
                List<string> rest = new List<string>(longer);
                rest.RemoveAt(i);
                bool same = true;
                for (int j = 0; j < rest.Count && same; j++)
                    same = String.Equals(rest[j], shorter[j], StringComparison.Ordinal);
                if (same)
                    return true;
            }
            return false;
        }

        /// <summary>Delete the backups of the run (BackupEngine.DeleteSelftestBackups): their ids.</summary>
        public static List<object> RemoveBackups(IHostOs os, string store, string runId, bool checkMode)
        {
            return BackupEngine.DeleteSelftestBackups(os, store, runId, checkMode);
        }

        /// <summary>Make the run's folder and files; false when they exist already, whole. A folder left half-made (still
        /// open: a make stopped before its DACL was set) is completed; any other folder that is not whole (a file missing,
        /// a folder in it) is named, not changed. When a make fails, what it made is deleted again. InvalidOperationException
        /// when the parent is a link or not SYSTEM's and Administrators' alone.</summary>
        public static bool Create(IHostOs os, string runId)
        {
            string folder = Folder(os, runId);
            string root = AllowList.SelftestRoot(os.SystemRoot());
            string programData = root.Substring(0, root.LastIndexOf('\\'));
            string problem = BackupEngine.LinkProblem(os, programData);
            if (problem == null && !os.DirectoryExists(root))
                os.CreateDirectory(root, BackupEngine.StoreSddl);
            if (problem == null)
                problem = BackupEngine.SandboxProblem(os, folder);
            if (problem != null)
                throw new InvalidOperationException(problem);
            if (os.DirectoryExists(folder))
                return Complete(os, folder, runId);
            os.CreateDirectory(folder, OpenSddl);
            try
            {
                foreach (string name in FileNames)
                    os.WriteTextAtomic(folder, name, "backupready.windows self-test " + runId + "\n", FileSddl);
                os.WriteSecurity(folder, Sddl.OwnerAndDacl(FolderSddl));
            }
            catch (Exception)
            {
                Discard(os, folder);
                throw;
            }
            return true;
        }

        // The run's folder exists: false when it is whole; made whole when a make stopped before its DACL was set (the
        // folder is still open, as made); InvalidOperationException naming what is wrong otherwise.
        private static bool Complete(IHostOs os, string folder, string runId)
        {
            string problem = BackupEngine.LinkProblem(os, folder);
            if (problem == null && os.ListDirectories(folder).Length != 0)
                problem = folder + " holds a folder";
            List<string> missing = new List<string>();
            if (problem == null)
            {
                string[] present = os.ListFiles(folder);
                foreach (string name in FileNames)
                    if (Array.IndexOf(present, name) < 0)
                        missing.Add(name);
            }
            bool open = problem == null && Sddl.OwnerAndDacl(os.ReadSecurity(folder, false)) == Sddl.OwnerAndDacl(OpenSddl);
            if (problem == null && missing.Count == 0 && !open)
                return false;
            if (problem == null && !open)
                problem = String.Format("{0} exists without {1} and is no longer as the self-test makes it", folder, String.Join(", ", missing.ToArray()));
            if (problem != null)
                throw new InvalidOperationException(String.Format("the self-test sandbox {0} is not whole: {1}; remove it (state: absent) " +
                    "and make it again", runId, problem));
            foreach (string name in missing)
                os.WriteTextAtomic(folder, name, "backupready.windows self-test " + runId + "\n", FileSddl);
            os.WriteSecurity(folder, Sddl.OwnerAndDacl(FolderSddl));
            return true;
        }

        // Delete a folder this make created and what it wrote in it (best effort: the make's own error is the one raised).
        private static void Discard(IHostOs os, string folder)
        {
            try
            {
                os.WriteSecurity(folder, OpenSddl);
                foreach (string name in os.ListFiles(folder))
                    if (Array.IndexOf(FileNames, name) >= 0)
                        os.DeleteFile(BackupEngine.Join(folder, name));
                os.DeleteDirectory(folder);
            }
            catch (Exception)
            {
                // left for state: absent, which names it
            }
        }

        /// <summary>Delete the run's files and folder (and the root once empty); what was removed. InvalidOperationException,
        /// with nothing deleted, when the folder or a parent is a link, a parent is not trusted, or it holds a folder.</summary>
        public static List<object> Remove(IHostOs os, string runId)
        {
            string folder = Folder(os, runId);
            List<object> removed = new List<object>();
            if (!os.DirectoryExists(folder))
                return removed;
            string problem = BackupEngine.SandboxProblem(os, folder);
            if (problem == null)
                problem = BackupEngine.LinkProblem(os, folder);
            if (problem == null && os.ListDirectories(folder).Length > 0)
                problem = folder + " holds a folder: the self-test makes files only, so it is left as it is";
            foreach (string name in problem == null ? os.ListFiles(folder) : new string[0])
                if (problem == null)
                    problem = BackupEngine.LinkProblem(os, BackupEngine.Join(folder, name));
            if (problem != null)
                throw new InvalidOperationException(problem);
            os.WriteSecurity(folder, OpenSddl);  // its DACL denies Users reading; this one propagates to the files
            foreach (string name in os.ListFiles(folder))
                os.DeleteFile(BackupEngine.Join(folder, name));
            os.DeleteDirectory(folder);
            removed.Add(folder);
            string root = AllowList.SelftestRoot(os.SystemRoot());
            if (os.ListDirectories(root).Length == 0 && os.ListFiles(root).Length == 0)
                os.DeleteDirectory(root);
            return removed;
        }
    }

    internal static class HostNative
    {
        internal const uint READ_CONTROL = 0x20000;
        internal const uint WRITE_DAC = 0x40000;
        internal const uint WRITE_OWNER = 0x80000;
        internal const uint ACCESS_SYSTEM_SECURITY = 0x1000000;
        internal const uint SYNCHRONIZE = 0x100000;
        internal const uint FILE_LIST_DIRECTORY = 0x1;
        internal const uint FILE_READ_ATTRIBUTES = 0x80;
        internal const uint GENERIC_WRITE = 0x40000000;
        internal const uint GENERIC_READ = 0x80000000;
        internal const uint FILE_SHARE_ALL = 0x7;  // read, write, delete
        internal const uint CREATE_NEW = 1;
        internal const uint OPEN_EXISTING = 3;
        internal const uint FILE_ATTRIBUTE_NORMAL = 0x80;
        internal const uint FILE_ATTRIBUTE_DIRECTORY = 0x10;
        internal const uint FILE_FLAG_BACKUP_SEMANTICS = 0x2000000;
        internal const uint FILE_FLAG_OPEN_REPARSE_POINT = 0x200000;
        internal const uint FILE_ATTRIBUTE_REPARSE_POINT = 0x400;
        internal const uint FILE_FLAG_WRITE_THROUGH = 0x80000000;
        internal const uint MOVEFILE_REPLACE_EXISTING = 0x1;
        internal const uint MOVEFILE_WRITE_THROUGH = 0x8;
        internal const uint INVALID_FILE_ATTRIBUTES = 0xFFFFFFFF;
        internal const uint SE_FILE_OBJECT = 1;
        internal const uint OWNER_SECURITY_INFORMATION = 0x1;
        internal const uint GROUP_SECURITY_INFORMATION = 0x2;
        internal const uint DACL_SECURITY_INFORMATION = 0x4;
        internal const uint SACL_SECURITY_INFORMATION = 0x8;
        internal const uint UNPROTECTED_DACL_SECURITY_INFORMATION = 0x20000000;
        internal const uint PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000;
        internal const ushort SE_DACL_PROTECTED = 0x1000;
        internal const uint SDDL_REVISION_1 = 1;
        internal const int FileBasicInfo = 0;
        internal const int FileFullDirectoryInfo = 14;
        internal const int FileFullDirectoryRestartInfo = 15;
        internal const int ERROR_FILE_NOT_FOUND = 2;
        internal const int ERROR_PATH_NOT_FOUND = 3;
        internal const int ERROR_ACCESS_DENIED = 5;
        internal const int ERROR_NO_MORE_FILES = 18;
        internal const int ERROR_SERVICE_DOES_NOT_EXIST = 1060;
        internal const uint SC_MANAGER_CONNECT = 0x1;
        internal const uint SERVICE_QUERY_STATUS = 0x4;
        internal const uint SERVICE_CHANGE_CONFIG = 0x2;
        internal const uint SERVICE_NO_CHANGE = 0xFFFFFFFF;

        [StructLayout(LayoutKind.Sequential)]
        public struct SECURITY_ATTRIBUTES
        {
            public int nLength;
            public IntPtr lpSecurityDescriptor;
            public int bInheritHandle;
        }

        /// <summary>BY_HANDLE_FILE_INFORMATION (fileapi.h); each FILETIME as its low and high DWORD.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct BY_HANDLE_FILE_INFORMATION
        {
            public uint dwFileAttributes;
            public uint ftCreationTimeLow;
            public uint ftCreationTimeHigh;
            public uint ftLastAccessTimeLow;
            public uint ftLastAccessTimeHigh;
            public uint ftLastWriteTimeLow;
            public uint ftLastWriteTimeHigh;
            public uint dwVolumeSerialNumber;
            public uint nFileSizeHigh;
            public uint nFileSizeLow;
            public uint nNumberOfLinks;
            public uint nFileIndexHigh;
            public uint nFileIndexLow;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct SERVICE_STATUS
        {
            public uint dwServiceType;
            public uint dwCurrentState;
            public uint dwControlsAccepted;
            public uint dwWin32ExitCode;
            public uint dwServiceSpecificExitCode;
            public uint dwCheckPoint;
            public uint dwWaitHint;
        }

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "CreateFileW")]
        internal static extern SafeFileHandle CreateFile(string name, uint access, uint share, IntPtr attributes, uint disposition,
            uint flags, IntPtr template);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "CreateFileW")]
        internal static extern SafeFileHandle CreateFileSecured(string name, uint access, uint share, ref SECURITY_ATTRIBUTES attributes,
            uint disposition, uint flags, IntPtr template);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "CreateDirectoryW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CreateDirectory(string name, ref SECURITY_ATTRIBUTES attributes);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "GetFileAttributesW")]
        internal static extern uint GetFileAttributes(string name);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool GetFileInformationByHandle(SafeFileHandle file, out BY_HANDLE_FILE_INFORMATION information);

        [DllImport("kernel32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool GetFileInformationByHandleEx(SafeFileHandle file, int informationClass, IntPtr buffer, uint size);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "MoveFileExW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool MoveFileEx(string from, string to, uint flags);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "DeleteFileW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool DeleteFile(string name);

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "RemoveDirectoryW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool RemoveDirectory(string name);

        [DllImport("kernel32.dll")]
        internal static extern IntPtr LocalFree(IntPtr memory);

        [DllImport("kernel32.dll")]
        internal static extern uint GetOEMCP();

        // Security functions of aclapi.h return the error code; they do not set the thread's last error.
        [DllImport("advapi32.dll")]
        internal static extern uint GetSecurityInfo(SafeFileHandle handle, uint objectType, uint information, IntPtr owner,
            IntPtr group, IntPtr dacl, IntPtr sacl, out IntPtr descriptor);

        [DllImport("advapi32.dll")]
        internal static extern uint SetSecurityInfo(SafeFileHandle handle, uint objectType, uint information, IntPtr owner,
            IntPtr group, IntPtr dacl, IntPtr sacl);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "ConvertSecurityDescriptorToStringSecurityDescriptorW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool DescriptorToSddl(IntPtr descriptor, uint revision, uint information, out IntPtr text, out uint length);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "ConvertStringSecurityDescriptorToSecurityDescriptorW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool SddlToDescriptor(string text, uint revision, out IntPtr descriptor, out uint size);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool GetSecurityDescriptorOwner(IntPtr descriptor, out IntPtr owner, [MarshalAs(UnmanagedType.Bool)] out bool defaulted);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool GetSecurityDescriptorDacl(IntPtr descriptor, [MarshalAs(UnmanagedType.Bool)] out bool present,
            out IntPtr dacl, [MarshalAs(UnmanagedType.Bool)] out bool defaulted);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool GetSecurityDescriptorControl(IntPtr descriptor, out ushort control, out uint revision);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "OpenSCManagerW")]
        internal static extern SafeServiceHandle OpenSCManager(string machine, string database, uint access);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "OpenServiceW")]
        internal static extern SafeServiceHandle OpenService(SafeServiceHandle manager, string name, uint access);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool QueryServiceStatus(SafeServiceHandle service, out SERVICE_STATUS status);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "ChangeServiceConfigW")]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool ChangeServiceConfig(SafeServiceHandle service, uint serviceType, uint startType, uint errorControl,
            string binaryPath, string loadOrderGroup, IntPtr tagId, string dependencies, string serviceStartName, string password,
            string displayName);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool SetServiceObjectSecurity(SafeServiceHandle service, uint information, IntPtr descriptor);

        [DllImport("advapi32.dll", SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CloseServiceHandle(IntPtr handle);
    }

    internal sealed class SafeServiceHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public SafeServiceHandle() : base(true)
        {
        }

        protected override bool ReleaseHandle()
        {
            return HostNative.CloseServiceHandle(handle);
        }
    }

    /// <summary>A self-relative security descriptor built from SDDL by Windows (LocalFree'd on Dispose).</summary>
    internal sealed class NativeDescriptor : IDisposable
    {
        public IntPtr Pointer;

        public NativeDescriptor(string sddl)
        {
            uint size;
            if (!HostNative.SddlToDescriptor(sddl, HostNative.SDDL_REVISION_1, out Pointer, out size))
                throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("SDDL {0} is not accepted by Windows", sddl));
        }

        /// <summary>SECURITY_ATTRIBUTES that give a created file or folder this descriptor.</summary>
        public HostNative.SECURITY_ATTRIBUTES Attributes()
        {
            HostNative.SECURITY_ATTRIBUTES attributes = new HostNative.SECURITY_ATTRIBUTES();
            attributes.nLength = Marshal.SizeOf(typeof(HostNative.SECURITY_ATTRIBUTES));
            attributes.lpSecurityDescriptor = Pointer;
            return attributes;
        }

        public void Dispose()
        {
            if (Pointer != IntPtr.Zero)
                HostNative.LocalFree(Pointer);
            Pointer = IntPtr.Zero;
        }
    }

    /// <summary>
    /// IHostOs on Windows, one code path for Windows PowerShell 5.1 (.NET Framework) and PowerShell 7 (.NET): the
    /// Win32 API through P/Invoke, no System.IO.File/Directory Get/SetAccessControl (absent on .NET Core) and no
    /// FileSystemAclExtensions. Files and folders are opened with FILE_FLAG_BACKUP_SEMANTICS, so with SeBackupPrivilege
    /// and SeRestorePrivilege enabled (the module enables them) the DACL does not stand in the way (KB 240184); their
    /// security is read and written raw (GetSecurityInfo / SetSecurityInfo): no canonical reordering of ACEs. Every open
    /// adds FILE_FLAG_OPEN_REPARSE_POINT: a junction or symbolic link is the link itself, never its target ("CreateFileW",
    /// "Symbolic Link Effects on File Systems Functions", Microsoft docs); the engine refuses links it meets.
    /// Starting and restarting a service are delegates the module passes (Start-Service, Restart-Service -Force): the
    /// cmdlets stop and restart dependent services and wait, which the SCM API alone does not do.
    /// </summary>
    public sealed class WindowsHostOs : IHostOs
    {
        private const string LockName = BackupEngine.LockName;
        private readonly Action<string> start;
        private readonly Action<string> restart;

        public WindowsHostOs(Action<string> start, Action<string> restart)
        {
            this.start = start;
            this.restart = restart;
        }

        /// <summary>The system OEM code page (GetOEMCP): what a console program started without a console writes in.</summary>
        public static int OemCodePage()
        {
            return (int)HostNative.GetOEMCP();
        }

        public string SystemRoot()
        {
            return Environment.GetEnvironmentVariable("SystemRoot");
        }

        public string HostName()
        {
            return Environment.MachineName;
        }

        public DateTime UtcNow()
        {
            return DateTime.UtcNow;
        }

        public string NewIdSuffix()
        {
            byte[] bytes = new byte[4];
            using (System.Security.Cryptography.RandomNumberGenerator generator = System.Security.Cryptography.RandomNumberGenerator.Create())
                generator.GetBytes(bytes);
            return RegistryValue.ToHex(bytes, 4);
        }

        /// <summary>One file or folder on one handle (IHostObject): its attributes and link count are read at open.</summary>
        private sealed class WindowsObject : IHostObject
        {
            private readonly SafeFileHandle handle;
            private readonly string path;
            private readonly HostNative.BY_HANDLE_FILE_INFORMATION information;

            public WindowsObject(string path, bool forWrite)
            {
                this.path = path;
                uint access = HostNative.READ_CONTROL | HostNative.FILE_READ_ATTRIBUTES;
                if (forWrite)
                    access |= HostNative.WRITE_DAC | HostNative.WRITE_OWNER;
                handle = Open(path, access);
                if (!HostNative.GetFileInformationByHandle(handle, out information))
                {
                    int error = Marshal.GetLastWin32Error();
                    handle.Dispose();
                    throw new Win32Exception(error, String.Format("the attributes of {0} cannot be read", path));
                }
            }

            public bool IsDirectory()
            {
                return (information.dwFileAttributes & HostNative.FILE_ATTRIBUTE_DIRECTORY) != 0;
            }

            public bool IsReparsePoint()
            {
                return (information.dwFileAttributes & HostNative.FILE_ATTRIBUTE_REPARSE_POINT) != 0;
            }

            public int LinkCount()
            {
                return (int)information.nNumberOfLinks;
            }

            public string ReadSecurity()
            {
                return ReadSecurityOn(handle, path, HostNative.OWNER_SECURITY_INFORMATION | HostNative.GROUP_SECURITY_INFORMATION |
                    HostNative.DACL_SECURITY_INFORMATION);
            }

            public void WriteSecurity(string ownerAndDacl)
            {
                WriteSecurityOn(handle, path, ownerAndDacl);
            }

            public void Dispose()
            {
                handle.Dispose();
            }
        }

        public IHostObject OpenObject(string path, bool forWrite)
        {
            return new WindowsObject(path, forWrite);
        }

        private sealed class HeldMutex : IDisposable
        {
            private Mutex mutex;

            public HeldMutex(Mutex mutex)
            {
                this.mutex = mutex;
            }

            public void Dispose()
            {
                if (mutex == null)
                    return;
                mutex.ReleaseMutex();
                mutex.Dispose();
                mutex = null;
            }
        }

        public IDisposable Lock(int timeoutMilliseconds)
        {
            Mutex mutex;
            try
            {
                mutex = new Mutex(false, LockName);
            }
            catch (WaitHandleCannotBeOpenedException error)
            {
                // Another kind of object has the name (someone made it first): as good as a mutex that denies us.
                throw new UnauthorizedAccessException(LockName + " is another kind of object: " + error.Message, error);
            }
            // UnauthorizedAccessException (the mutex exists and its DACL denies this account) goes to the engine as it is.
            bool held;
            try
            {
                held = mutex.WaitOne(timeoutMilliseconds);
            }
            catch (AbandonedMutexException)
            {
                // Its last holder died and this thread owns it now (WaitOne, Microsoft docs): the pending record the dead
                // apply may have left is what the journal resolves first (docs/write-path.md section 3).
                held = true;
            }
            if (!held)
            {
                mutex.Dispose();
                throw new TimeoutException("Global\\backupready.windows.apply is held by another apply");
            }
            return new HeldMutex(mutex);
        }

        public void Sleep(int milliseconds)
        {
            Thread.Sleep(milliseconds);
        }

        public void Step(string stage, int index)
        {
        }

        // ---- registry ----------------------------------------------------------------------------------------------

        public bool RegistryKeyExists(string subKey)
        {
            using (RegistryKey key = Registry.LocalMachine.OpenSubKey(subKey))
                return key != null;
        }

        public Dictionary<string, object> RegistryRead(string subKey, string name)
        {
            using (RegistryKey key = Registry.LocalMachine.OpenSubKey(subKey))
                return key == null ? null : RegistryValue.Read(key, name);
        }

        public void RegistryWrite(string subKey, string name, IDictionary value, bool createKey)
        {
            RegistryKey key = createKey ? Registry.LocalMachine.CreateSubKey(subKey) : Registry.LocalMachine.OpenSubKey(subKey, true);
            if (key == null)
                throw new InvalidOperationException(String.Format("HKLM\\{0} does not exist (a service key is never created)", subKey));
            using (key)
                RegistryValue.Write(key, name, value);
        }

        public string RegistryWriteProblem(string subKey)
        {
            try
            {
                RegistryKey key = Registry.LocalMachine.OpenSubKey(subKey, true);
                if (key != null)
                    key.Dispose();
                return null;
            }
            catch (System.Security.SecurityException error)
            {
                return error.Message;
            }
            catch (UnauthorizedAccessException error)
            {
                return error.Message;
            }
        }

        // ---- services ----------------------------------------------------------------------------------------------

        private static SafeServiceHandle OpenService(string service, uint access, bool missingIsNull)
        {
            using (SafeServiceHandle manager = HostNative.OpenSCManager(null, null, HostNative.SC_MANAGER_CONNECT))
            {
                if (manager.IsInvalid)
                    throw new Win32Exception(Marshal.GetLastWin32Error(), "OpenSCManager failed");
                SafeServiceHandle handle = HostNative.OpenService(manager, service, access);
                if (handle.IsInvalid)
                {
                    int error = Marshal.GetLastWin32Error();
                    handle.Dispose();
                    if (missingIsNull && error == HostNative.ERROR_SERVICE_DOES_NOT_EXIST)
                        return null;
                    throw new Win32Exception(error, String.Format("OpenService({0}) failed", service));
                }
                return handle;
            }
        }

        public string ServiceState(string service)
        {
            string[] states = new string[] { "unknown", "stopped", "start_pending", "stop_pending", "running", "continue_pending", "pause_pending", "paused" };
            SafeServiceHandle handle = OpenService(service, HostNative.SERVICE_QUERY_STATUS, true);
            if (handle == null)
                return null;
            using (handle)
            {
                HostNative.SERVICE_STATUS status;
                if (!HostNative.QueryServiceStatus(handle, out status))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("QueryServiceStatus({0}) failed", service));
                return status.dwCurrentState < states.Length ? states[status.dwCurrentState] : "unknown";
            }
        }

        /// <summary>Services\&lt;name&gt;\Security, value Security (binary), as SDDL; "default" when there is none (the SCM default).</summary>
        public string ServiceDescriptor(string service)
        {
            Dictionary<string, object> value = RegistryRead("SYSTEM\\CurrentControlSet\\Services\\" + service + "\\Security", "Security");
            if (value == null || (string)value["kind"] == "missing")
                return "default";
            if ((string)value["kind"] != "REG_BINARY")
                throw new InvalidOperationException(String.Format("the Security value of service {0} is {1}, not binary", service, value["kind"]));
            byte[] bytes = RegistryValue.FromHex((string)value["data"]);
            IntPtr buffer = Marshal.AllocHGlobal(bytes.Length);
            try
            {
                Marshal.Copy(bytes, 0, buffer, bytes.Length);
                return ToSddl(buffer, HostNative.OWNER_SECURITY_INFORMATION | HostNative.GROUP_SECURITY_INFORMATION |
                    HostNative.DACL_SECURITY_INFORMATION | HostNative.SACL_SECURITY_INFORMATION);
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        public void SetServiceStartMode(string service, string mode)
        {
            uint startType = mode == "auto" ? 2u : mode == "manual" ? 3u : mode == "disabled" ? 4u : 0u;
            if (startType == 0)
                throw new ArgumentException("start mode " + mode + " cannot be set");
            using (SafeServiceHandle handle = OpenService(service, HostNative.SERVICE_CHANGE_CONFIG, false))
            {
                if (!HostNative.ChangeServiceConfig(handle, HostNative.SERVICE_NO_CHANGE, startType, HostNative.SERVICE_NO_CHANGE,
                    null, null, IntPtr.Zero, null, null, null, null))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("ChangeServiceConfig({0}) failed", service));
            }
        }

        public void StartService(string service)
        {
            start(service);
        }

        public void RestartService(string service)
        {
            restart(service);
        }

        /// <summary>SetServiceObjectSecurity with DACL_SECURITY_INFORMATION only: no SeSecurityPrivilege needed, owner/group/SACL kept.</summary>
        public void SetServiceDacl(string service, string daclSddl)
        {
            using (NativeDescriptor descriptor = new NativeDescriptor(daclSddl))
            using (SafeServiceHandle handle = OpenService(service, HostNative.READ_CONTROL | HostNative.WRITE_DAC, false))
            {
                if (!HostNative.SetServiceObjectSecurity(handle, HostNative.DACL_SECURITY_INFORMATION, descriptor.Pointer))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("SetServiceObjectSecurity({0}) failed", service));
            }
        }

        // ---- files -------------------------------------------------------------------------------------------------

        /// <summary>The object itself with backup intent: FILE_FLAG_OPEN_REPARSE_POINT, a link is never followed.</summary>
        private static SafeFileHandle Open(string path, uint access)
        {
            SafeFileHandle handle = HostNative.CreateFile(path, access, HostNative.FILE_SHARE_ALL, IntPtr.Zero, HostNative.OPEN_EXISTING,
                HostNative.FILE_FLAG_BACKUP_SEMANTICS | HostNative.FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);
            if (handle.IsInvalid)
            {
                int error = Marshal.GetLastWin32Error();
                handle.Dispose();
                string message = String.Format("{0} cannot be opened", path);
                if (error == HostNative.ERROR_FILE_NOT_FOUND)
                    throw new FileNotFoundException(message + ": it does not exist", path);
                if (error == HostNative.ERROR_PATH_NOT_FOUND)
                    throw new DirectoryNotFoundException(message + ": its folder does not exist");
                throw new Win32Exception(error, message);
            }
            return handle;
        }

        private static string ToSddl(IntPtr descriptor, uint information)
        {
            IntPtr text;
            uint length;
            if (!HostNative.DescriptorToSddl(descriptor, HostNative.SDDL_REVISION_1, information, out text, out length))
                throw new Win32Exception(Marshal.GetLastWin32Error(), "the security descriptor cannot be converted to SDDL");
            try
            {
                return Marshal.PtrToStringUni(text);
            }
            finally
            {
                HostNative.LocalFree(text);
            }
        }

        public bool DirectoryExists(string path)
        {
            uint attributes = HostNative.GetFileAttributes(path);
            if (attributes == HostNative.INVALID_FILE_ATTRIBUTES)
            {
                int error = Marshal.GetLastWin32Error();
                if (error == HostNative.ERROR_FILE_NOT_FOUND || error == HostNative.ERROR_PATH_NOT_FOUND)
                    return false;
                if (error != HostNative.ERROR_ACCESS_DENIED)
                    throw new Win32Exception(error, String.Format("the attributes of {0} cannot be read", path));
                // Denied (a DACL that denies Administrators): ask again on a handle opened with backup intent.
                using (SafeFileHandle handle = Open(path, HostNative.FILE_READ_ATTRIBUTES))
                {
                    IntPtr buffer = Marshal.AllocHGlobal(40);  // FILE_BASIC_INFO: 4 LARGE_INTEGER times, DWORD attributes
                    try
                    {
                        if (!HostNative.GetFileInformationByHandleEx(handle, HostNative.FileBasicInfo, buffer, 40))
                            throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("the attributes of {0} cannot be read", path));
                        attributes = (uint)Marshal.ReadInt32(buffer, 32);
                    }
                    finally
                    {
                        Marshal.FreeHGlobal(buffer);
                    }
                }
            }
            return (attributes & HostNative.FILE_ATTRIBUTE_DIRECTORY) != 0;
        }

        /// <summary>
        /// The entries of a folder, enumerated on a handle opened with backup intent (GetFileInformationByHandleEx,
        /// FILE_FULL_DIR_INFO): a DACL that denies Administrators listing (acl-broken filemaps) does not stop it.
        /// </summary>
        private static string[] ListEntries(string folder, bool directories)
        {
            List<string> names = new List<string>();
            const int size = 64 * 1024;
            using (SafeFileHandle handle = Open(folder, HostNative.FILE_LIST_DIRECTORY | HostNative.SYNCHRONIZE))
            {
                IntPtr buffer = Marshal.AllocHGlobal(size);
                try
                {
                    int informationClass = HostNative.FileFullDirectoryRestartInfo;
                    while (true)
                    {
                        if (!HostNative.GetFileInformationByHandleEx(handle, informationClass, buffer, size))
                        {
                            int error = Marshal.GetLastWin32Error();
                            if (error == HostNative.ERROR_NO_MORE_FILES)
                                break;
                            throw new Win32Exception(error, String.Format("{0} cannot be listed", folder));
                        }
                        informationClass = HostNative.FileFullDirectoryInfo;
                        int offset = 0;
                        while (true)
                        {
                            // FILE_FULL_DIR_INFO: NextEntryOffset @0, FileAttributes @56, FileNameLength (bytes) @60, FileName @68.
                            int next = Marshal.ReadInt32(buffer, offset);
                            uint attributes = (uint)Marshal.ReadInt32(buffer, offset + 56);
                            int length = Marshal.ReadInt32(buffer, offset + 60);
                            string name = Marshal.PtrToStringUni(new IntPtr(buffer.ToInt64() + offset + 68), length / 2);
                            bool isDirectory = (attributes & HostNative.FILE_ATTRIBUTE_DIRECTORY) != 0;
                            if (name != "." && name != ".." && isDirectory == directories)
                                names.Add(name);
                            if (next == 0)
                                break;
                            offset += next;
                        }
                    }
                }
                finally
                {
                    Marshal.FreeHGlobal(buffer);
                }
            }
            return names.ToArray();
        }

        public string[] ListFiles(string folder)
        {
            return ListEntries(folder, false);
        }

        public string[] ListDirectories(string folder)
        {
            return ListEntries(folder, true);
        }

        public string ReadSecurity(string path, bool withSacl)
        {
            uint information = HostNative.OWNER_SECURITY_INFORMATION | HostNative.GROUP_SECURITY_INFORMATION | HostNative.DACL_SECURITY_INFORMATION;
            uint access = HostNative.READ_CONTROL;
            if (withSacl)
            {
                information |= HostNative.SACL_SECURITY_INFORMATION;
                access |= HostNative.ACCESS_SYSTEM_SECURITY;  // needs SeSecurityPrivilege enabled
            }
            using (SafeFileHandle handle = Open(path, access))
                return ReadSecurityOn(handle, path, information);
        }

        private static string ReadSecurityOn(SafeFileHandle handle, string path, uint information)
        {
            IntPtr descriptor;
            uint error = HostNative.GetSecurityInfo(handle, HostNative.SE_FILE_OBJECT, information, IntPtr.Zero, IntPtr.Zero,
                IntPtr.Zero, IntPtr.Zero, out descriptor);
            if (error != 0)
                throw new Win32Exception((int)error, String.Format("GetSecurityInfo({0}) failed", path));
            try
            {
                return ToSddl(descriptor, information);
            }
            finally
            {
                HostNative.LocalFree(descriptor);
            }
        }

        /// <summary>
        /// Owner (when the SDDL has one) and DACL in one SetSecurityInfo call on a handle opened for WRITE_DAC|WRITE_OWNER
        /// with backup intent; PROTECTED or UNPROTECTED_DACL_SECURITY_INFORMATION from the DACL's P. Group and SACL are
        /// not in the information written. Windows then recomputes inherited ACEs and propagates to children.
        /// </summary>
        public void WriteSecurity(string path, string ownerAndDacl)
        {
            using (IHostObject opened = OpenObject(path, true))
                opened.WriteSecurity(ownerAndDacl);
        }

        private static void WriteSecurityOn(SafeFileHandle handle, string path, string ownerAndDacl)
        {
            using (NativeDescriptor descriptor = new NativeDescriptor(ownerAndDacl))
            {
                IntPtr owner;
                bool defaulted;
                if (!HostNative.GetSecurityDescriptorOwner(descriptor.Pointer, out owner, out defaulted))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), "GetSecurityDescriptorOwner failed");
                bool present;
                IntPtr dacl;
                if (!HostNative.GetSecurityDescriptorDacl(descriptor.Pointer, out present, out dacl, out defaulted))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), "GetSecurityDescriptorDacl failed");
                if (!present || dacl == IntPtr.Zero)
                    throw new ArgumentException("a descriptor without a DACL or with a NULL DACL is never written: " + ownerAndDacl);
                ushort control;
                uint revision;
                if (!HostNative.GetSecurityDescriptorControl(descriptor.Pointer, out control, out revision))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), "GetSecurityDescriptorControl failed");
                uint information = HostNative.DACL_SECURITY_INFORMATION |
                    ((control & HostNative.SE_DACL_PROTECTED) != 0 ? HostNative.PROTECTED_DACL_SECURITY_INFORMATION : HostNative.UNPROTECTED_DACL_SECURITY_INFORMATION);
                if (owner != IntPtr.Zero)
                    information |= HostNative.OWNER_SECURITY_INFORMATION;
                uint error = HostNative.SetSecurityInfo(handle, HostNative.SE_FILE_OBJECT, information, owner, IntPtr.Zero, dacl, IntPtr.Zero);
                if (error != 0)
                    throw new Win32Exception((int)error, String.Format("SetSecurityInfo({0}) failed", path));
            }
        }

        public string SddlProblem(string sddl)
        {
            try
            {
                using (new NativeDescriptor(sddl))
                    return null;
            }
            catch (Win32Exception error)
            {
                return error.Message;
            }
        }

        public void CreateDirectory(string path, string sddl)
        {
            using (NativeDescriptor descriptor = new NativeDescriptor(sddl))
            {
                HostNative.SECURITY_ATTRIBUTES attributes = descriptor.Attributes();
                if (!HostNative.CreateDirectory(path, ref attributes))
                    throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("{0} cannot be created", path));
            }
        }

        /// <summary>The file itself (never a link's target), read whole on one handle, strict UTF-8.</summary>
        public string ReadText(string path)
        {
            using (SafeFileHandle handle = Open(path, HostNative.GENERIC_READ))
            using (FileStream stream = new FileStream(handle, FileAccess.Read))
            using (MemoryStream bytes = new MemoryStream())
            {
                stream.CopyTo(bytes);
                return new UTF8Encoding(false, true).GetString(bytes.ToArray());
            }
        }

        public void WriteTextAtomic(string folder, string name, string text, string sddl)
        {
            string target = BackupEngine.Join(folder, name);
            string temp = BackupEngine.Join(folder, BackupEngine.TempPrefix + NewIdSuffix());
            byte[] bytes = new UTF8Encoding(false, true).GetBytes(text);
            using (NativeDescriptor descriptor = new NativeDescriptor(sddl))
            {
                HostNative.SECURITY_ATTRIBUTES attributes = descriptor.Attributes();
                // CREATE_NEW fails on any existing name, a link included (never followed): the temporary file is a new file.
                SafeFileHandle handle = HostNative.CreateFileSecured(temp, HostNative.GENERIC_WRITE, 0, ref attributes, HostNative.CREATE_NEW,
                    HostNative.FILE_ATTRIBUTE_NORMAL | HostNative.FILE_FLAG_WRITE_THROUGH | HostNative.FILE_FLAG_OPEN_REPARSE_POINT, IntPtr.Zero);
                if (handle.IsInvalid)
                {
                    int error = Marshal.GetLastWin32Error();
                    handle.Dispose();
                    throw new Win32Exception(error, String.Format("{0} cannot be created", temp));
                }
                try
                {
                    using (FileStream stream = new FileStream(handle, FileAccess.Write))
                    {
                        stream.Write(bytes, 0, bytes.Length);
                        stream.Flush(true);
                    }
                    if (!HostNative.MoveFileEx(temp, target, HostNative.MOVEFILE_REPLACE_EXISTING | HostNative.MOVEFILE_WRITE_THROUGH))
                        throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("{0} cannot be renamed to {1}", temp, target));
                }
                catch
                {
                    handle.Dispose();  // FileStream may have thrown before taking it: the file (opened unshared) must be closed to be deleted
                    HostNative.DeleteFile(temp);
                    throw;
                }
            }
        }

        public void DeleteFile(string path)
        {
            if (!HostNative.DeleteFile(path))
                throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("{0} cannot be deleted", path));
        }

        public void DeleteDirectory(string path)
        {
            if (!HostNative.RemoveDirectory(path))
                throw new Win32Exception(Marshal.GetLastWin32Error(), String.Format("{0} cannot be deleted", path));
        }
    }
}
