// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Registry values read and written exactly, for win_backup_state and win_backup_apply.
// Loaded with '#AnsibleRequires -CSharpUtil ..module_utils.BackupReady' (ansible-core resolves the relative
// name to ansible_collections.backupready.windows.plugins.module_utils.BackupReady, the namespace below).
//
// Why not RegistryKey.GetValue / SetValue: whether GetValue keeps what follows an embedded NUL in REG_SZ /
// REG_EXPAND_SZ data differs between .NET versions (POWERSHELL.md), and GetValue returns a REG_DWORD as a
// signed Int32. Here the data is read as raw bytes with RegQueryValueExW and written with RegSetValueExW from
// bytes built by Encode, the exact inverse of Decode (Decode(Encode(v)) == v).
//
// C# 5 only: Windows PowerShell 5.1 compiles this with the .NET Framework csc (no ?., $"", nameof, =>).

using Microsoft.Win32;
using Microsoft.Win32.SafeHandles;
using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

//TypeAccelerator -Name BackupReady.RegistryValue -TypeName RegistryValue
//TypeAccelerator -Name BackupReady.ProcessArgument -TypeName ProcessArgument

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

        public static byte[] FromHex(string hex)
        {
            if (hex.Length % 2 != 0)
                throw new FormatException("hex data has an odd number of digits");
            byte[] bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = Byte.Parse(hex.Substring(i * 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            return bytes;
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
                    return LittleEndian(Convert.ToUInt32(data, CultureInfo.InvariantCulture), 4);
                case "REG_QWORD":
                    return LittleEndian(Convert.ToUInt64(data, CultureInfo.InvariantCulture), 8);
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

        // Integers only (JSON numbers arrive as Int32, Int64 or Decimal); a bool or a float is not one.
        private static bool InRange(object data, decimal max)
        {
            if (data == null || data is bool || data is float || data is double || data is string || data is char)
                return false;
            if (!(data is IConvertible))
                return false;
            decimal number;
            try
            {
                number = Convert.ToDecimal(data, CultureInfo.InvariantCulture);
            }
            catch (Exception)
            {
                return false;
            }
            return number == Decimal.Truncate(number) && number >= 0 && number <= max;
        }

        private static bool IsHex(object data)
        {
            string text = data as string;
            if (text == null || text.Length % 2 != 0)
                return false;
            foreach (char c in text)
                if (!Uri.IsHexDigit(c))
                    return false;
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
                    return Convert.ToDecimal(a, CultureInfo.InvariantCulture) == Convert.ToDecimal(b, CultureInfo.InvariantCulture);
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
}
