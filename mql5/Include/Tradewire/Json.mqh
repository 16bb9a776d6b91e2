//+------------------------------------------------------------------+
//| Json.mqh: just enough JSON for tradewire's frames (docs/mt5.md).  |
//| Writing: JsonStr/JsonNum build values; a frame is concatenated.   |
//| Reading: JsonGet finds a top-level key of an object and returns    |
//| its raw value text (a string is returned unquoted and unescaped). |
//+------------------------------------------------------------------+
#property strict

//--- a JSON string literal for s, with quotes and escapes
string JsonStr(const string s)
  {
   string out = "\"";
   int n = StringLen(s);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(s, i);
      if(c == '"')
         out += "\\\"";
      else if(c == '\\')
         out += "\\\\";
      else if(c == '\n')
         out += "\\n";
      else if(c == '\r')
         out += "\\r";
      else if(c == '\t')
         out += "\\t";
      else if(c < 0x20)
         out += StringFormat("\\u%04x", c);
      else
         out += ShortToString(c);
     }
   return out + "\"";
  }

//--- a JSON number with the given number of decimals ("0" for zero)
string JsonNum(const double value, const int digits = 8)
  {
   string text = DoubleToString(value, digits);
   if(StringFind(text, ".") >= 0)
     {
      // trim trailing zeros: 1.10000000 -> 1.1, 2.00000000 -> 2
      int end = StringLen(text);
      while(end > 0 && StringGetCharacter(text, end - 1) == '0')
         end--;
      if(end > 0 && StringGetCharacter(text, end - 1) == '.')
         end--;
      text = StringSubstr(text, 0, end);
     }
   if(text == "-0")
      text = "0";
   return text;
  }

string JsonInt(const long value)
  {
   return IntegerToString(value);
  }

string JsonBool(const bool value)
  {
   return value ? "true" : "false";
  }

bool JsonIsSpace(const ushort c)
  {
   return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  }

//--- index just past the string literal starting at i (a quote)
int JsonSkipString(const string json, int i)
  {
   int n = StringLen(json);
   for(i++; i < n; i++)
     {
      ushort c = StringGetCharacter(json, i);
      if(c == '\\')
         i++;
      else if(c == '"')
         return i + 1;
     }
   return -1;
  }

//--- index just past the JSON value starting at i (or -1 if malformed)
int JsonSkipValue(const string json, int i)
  {
   int n = StringLen(json);
   while(i < n && JsonIsSpace(StringGetCharacter(json, i)))
      i++;
   if(i >= n)
      return -1;
   ushort c = StringGetCharacter(json, i);
   if(c == '"')
      return JsonSkipString(json, i);
   if(c == '{' || c == '[')
     {
      int depth = 0;
      while(i < n)
        {
         c = StringGetCharacter(json, i);
         if(c == '"')
           {
            i = JsonSkipString(json, i);
            if(i < 0)
               return -1;
            continue;
           }
         if(c == '{' || c == '[')
            depth++;
         else if(c == '}' || c == ']')
           {
            depth--;
            if(depth == 0)
               return i + 1;
           }
         i++;
        }
      return -1;
     }
   // a number, true, false or null: up to the next delimiter
   while(i < n)
     {
      c = StringGetCharacter(json, i);
      if(c == ',' || c == '}' || c == ']' || JsonIsSpace(c))
         break;
      i++;
     }
   return i;
  }

//--- the text of a string literal without quotes, escapes resolved
string JsonUnquote(const string literal)
  {
   string out = "";
   int n = StringLen(literal) - 1;
   for(int i = 1; i < n; i++)
     {
      ushort c = StringGetCharacter(literal, i);
      if(c != '\\')
        {
         out += ShortToString(c);
         continue;
        }
      i++;
      c = StringGetCharacter(literal, i);
      if(c == 'n')
         out += "\n";
      else if(c == 'r')
         out += "\r";
      else if(c == 't')
         out += "\t";
      else if(c == 'u' && i + 4 < n)
        {
         out += ShortToString((ushort)StringToInteger("0x" + StringSubstr(literal, i + 1, 4)));
         i += 4;
        }
      else
         out += ShortToString(c);
     }
   return out;
  }

//--- raw text of the value of top-level key in a JSON object (a string keeps its quotes)
bool JsonGetRaw(const string json, const string key, string &value)
  {
   int n = StringLen(json);
   int i = 0;
   while(i < n && JsonIsSpace(StringGetCharacter(json, i)))
      i++;
   if(i >= n || StringGetCharacter(json, i) != '{')
      return false;
   i++;
   while(i < n)
     {
      while(i < n && (JsonIsSpace(StringGetCharacter(json, i)) || StringGetCharacter(json, i) == ','))
         i++;
      if(i >= n || StringGetCharacter(json, i) != '"')
         return false;
      int key_end = JsonSkipString(json, i);
      if(key_end < 0)
         return false;
      string name = JsonUnquote(StringSubstr(json, i, key_end - i));
      i = key_end;
      while(i < n && (JsonIsSpace(StringGetCharacter(json, i)) || StringGetCharacter(json, i) == ':'))
         i++;
      int value_end = JsonSkipValue(json, i);
      if(value_end < 0)
         return false;
      if(name == key)
        {
         value = StringSubstr(json, i, value_end - i);
         return true;
        }
      i = value_end;
     }
   return false;
  }

//--- value of top-level key: strings come back unquoted; objects, arrays, numbers as raw text;
//--- a null counts as absent
bool JsonGet(const string json, const string key, string &value)
  {
   if(!JsonGetRaw(json, key, value) || value == "null")
      return false;
   if(StringGetCharacter(value, 0) == '"')
      value = JsonUnquote(value);
   return true;
  }

//--- convenience readers with defaults
string JsonGetString(const string json, const string key, const string fallback = "")
  {
   string value;
   return JsonGet(json, key, value) ? value : fallback;
  }

double JsonGetDouble(const string json, const string key, const double fallback = 0.0)
  {
   string value;
   return JsonGet(json, key, value) ? StringToDouble(value) : fallback;
  }

long JsonGetLong(const string json, const string key, const long fallback = 0)
  {
   string value;
   return JsonGet(json, key, value) ? StringToInteger(value) : fallback;
  }

bool JsonGetBool(const string json, const string key, const bool fallback = false)
  {
   string value;
   if(!JsonGet(json, key, value))
      return fallback;
   return value == "true";
  }
//+------------------------------------------------------------------+
