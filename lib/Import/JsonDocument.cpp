//===- JsonDocument.cpp - JSON parsing with value locations ---------------===//

#include "moe/Import/JsonDocument.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"

using namespace mlir;
using namespace mlir::moe;

std::string mlir::moe::jsonPathJoin(llvm::StringRef parent,
                                    llvm::StringRef key) {
  return parent.empty() ? key.str() : (parent + "." + key).str();
}

std::string mlir::moe::jsonPathJoin(llvm::StringRef parent, size_t index) {
  return (parent + "[" + llvm::Twine(index) + "]").str();
}

/// The deepest nesting of objects and arrays a description may use.
static constexpr unsigned kMaxJsonDepth = 64;

namespace {
/// Builds the DOM through nlohmann's own SAX DOM builder, but keeps the
/// parse error (position and message) instead of throwing it.
class DomBuilder {
public:
  explicit DomBuilder(Json &root) : dom(root, /*allow_exceptions=*/false) {}

  bool null() { return dom.null(); }
  bool boolean(bool v) { return dom.boolean(v); }
  bool number_integer(Json::number_integer_t v) {
    return dom.number_integer(v);
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    return dom.number_unsigned(v);
  }
  bool number_float(Json::number_float_t v, const std::string &s) {
    return dom.number_float(v, s);
  }
  bool string(std::string &v) { return dom.string(v); }
  bool binary(Json::binary_t &v) { return dom.binary(v); }
  bool start_object(std::size_t n) { return enter() && dom.start_object(n); }
  bool key(std::string &k) { return dom.key(k); }
  bool end_object() {
    --depth;
    return dom.end_object();
  }
  bool start_array(std::size_t n) { return enter() && dom.start_array(n); }
  bool end_array() {
    --depth;
    return dom.end_array();
  }
  bool parse_error(std::size_t position, const std::string &lastToken,
                   const nlohmann::detail::exception &ex) {
    errorPosition = position;
    errorMessage = ex.what();
    return dom.parse_error(position, lastToken, ex);
  }

  std::optional<size_t> errorPosition;
  std::string errorMessage;
  bool tooDeep = false;

private:
  /// Model descriptions are a few levels deep; refusing absurd nesting keeps
  /// the path table (one entry per value, each path as long as its depth)
  /// small on hostile input.
  bool enter() {
    if (++depth <= kMaxJsonDepth)
      return true;
    tooDeep = true;
    return false;
  }

  unsigned depth = 0;
  nlohmann::detail::json_sax_dom_parser<Json> dom;
};

/// Records where every value of a well-formed JSON text starts. Iterative,
/// so hostile nesting depth cannot overflow the stack.
class PositionScanner {
public:
  PositionScanner(llvm::StringRef text,
                  llvm::StringMap<std::pair<unsigned, unsigned>> &positions)
      : text(text), positions(positions) {}

  void run() {
    struct Frame {
      std::string path;
      bool isArray;
      size_t index;
    };
    std::vector<Frame> stack;
    std::string valuePath; // path of the value about to start
    while (true) {
      skipSpace();
      if (pos >= text.size())
        return;
      char c = text[pos];
      // Closing a container, or a separator inside one.
      if (c == '}' || c == ']') {
        ++pos;
        if (stack.empty())
          return;
        stack.pop_back();
        continue;
      }
      if (c == ',') {
        ++pos;
        continue;
      }
      // Inside an object, a key comes before each value.
      if (!stack.empty() && !stack.back().isArray) {
        std::string key = readString();
        skipSpace();
        if (pos < text.size() && text[pos] == ':')
          ++pos;
        skipSpace();
        valuePath = jsonPathJoin(stack.back().path, key);
      } else if (!stack.empty()) {
        valuePath = jsonPathJoin(stack.back().path, stack.back().index++);
      }
      record(valuePath);
      if (pos >= text.size())
        return;
      c = text[pos];
      if (c == '{' || c == '[') {
        ++pos;
        stack.push_back({valuePath, c == '[', 0});
      } else if (c == '"') {
        readString();
      } else {
        while (pos < text.size() &&
               !llvm::StringRef(",]} \t\r\n").contains(text[pos]))
          ++pos;
      }
      if (stack.empty())
        return;
    }
  }

private:
  void skipSpace() {
    while (pos < text.size() && llvm::StringRef(" \t\r\n").contains(text[pos]))
      ++pos;
  }

  /// Reads a string literal at `pos`; returns its raw contents (escapes are
  /// kept as written, enough for the field names a config uses).
  std::string readString() {
    if (pos >= text.size() || text[pos] != '"')
      return "";
    size_t start = ++pos;
    while (pos < text.size() && text[pos] != '"')
      pos += text[pos] == '\\' ? 2 : 1;
    std::string result = text.slice(start, std::min(pos, text.size())).str();
    ++pos;
    return result;
  }

  void record(const std::string &path) {
    // Track line and column incrementally from the last recorded offset.
    for (; scanned < pos && scanned < text.size(); ++scanned) {
      if (text[scanned] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    positions.try_emplace(path, line, column);
  }

  llvm::StringRef text;
  llvm::StringMap<std::pair<unsigned, unsigned>> &positions;
  size_t pos = 0;
  size_t scanned = 0;
  unsigned line = 1, column = 1;
};
} // namespace

std::unique_ptr<JsonDocument>
JsonDocument::parse(const llvm::SourceMgr &sourceMgr, MLIRContext *context) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  std::unique_ptr<JsonDocument> doc(
      new JsonDocument(context, buffer->getBufferIdentifier().str()));
  llvm::StringRef text = buffer->getBuffer();

  DomBuilder builder(doc->rootValue);
  bool ok = Json::sax_parse(text.begin(), text.end(), &builder,
                            Json::input_format_t::json, /*strict=*/true);
  if (builder.tooDeep) {
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, 1, 1))
        << "malformed JSON: objects and arrays nested deeper than "
        << kMaxJsonDepth << " levels";
    return nullptr;
  }
  if (!ok || builder.errorPosition) {
    size_t offset = builder.errorPosition.value_or(text.size());
    // nlohmann counts the offending character as consumed.
    offset = std::min(offset > 0 ? offset - 1 : 0, text.size());
    auto [line, column] = sourceMgr.getLineAndColumn(
        llvm::SMLoc::getFromPointer(text.begin() + offset));
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    llvm::StringRef message = builder.errorMessage;
    if (message.starts_with("[json.exception."))
      message = message.split("] ").second;
    if (message.empty())
      message = "malformed JSON";
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, line, column))
        << "malformed JSON: " << message;
    return nullptr;
  }
  PositionScanner(text, doc->positions).run();
  return doc;
}

Location JsonDocument::locate(llvm::StringRef path) const {
  llvm::StringRef current = path;
  while (true) {
    auto it = positions.find(current);
    if (it != positions.end())
      return FileLineColLoc::get(context, fileName, it->second.first,
                                 it->second.second);
    if (current.empty())
      return FileLineColLoc::get(context, fileName, 1, 1);
    // Strip the last ".key" or "[i]".
    size_t cut = current.find_last_of(".[");
    current = cut == llvm::StringRef::npos ? "" : current.take_front(cut);
  }
}

InFlightDiagnostic JsonDocument::emitError(llvm::StringRef path) const {
  InFlightDiagnostic diag = mlir::emitError(locate(path));
  if (!path.empty())
    diag << path << ": ";
  return diag;
}

InFlightDiagnostic JsonDocument::emitWarning(llvm::StringRef path) const {
  InFlightDiagnostic diag = mlir::emitWarning(locate(path));
  if (!path.empty())
    diag << path << ": ";
  return diag;
}
