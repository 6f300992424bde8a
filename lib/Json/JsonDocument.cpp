//===- JsonDocument.cpp - JSON parsing with value locations ---------------===//

#include "moe/Json/JsonDocument.h"
#include "moe-support/Json.h"

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

  ::moe::support::JsonParseResult parsed =
      ::moe::support::parseJson(text.begin(), text.end(), kMaxJsonDepth,
                                /*rejectDuplicateKeys=*/true);
  if (parsed.tooDeep) {
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, 1, 1))
        << "malformed JSON: objects and arrays nested deeper than "
        << kMaxJsonDepth << " levels";
    return nullptr;
  }
  if (parsed.duplicateKey) {
    // The scanner below cannot place a key that appears twice, so the error
    // points at the document; the message names the key.
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, 1, 1))
        << "malformed JSON: key '" << *parsed.duplicateKey
        << "' appears twice in one object";
    return nullptr;
  }
  if (parsed.nulByte) {
    auto [line, column] = sourceMgr.getLineAndColumn(
        llvm::SMLoc::getFromPointer(text.begin() + *parsed.nulByte));
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, line, column))
        << "malformed JSON: NUL byte";
    return nullptr;
  }
  if (parsed.errorPosition) {
    size_t offset = *parsed.errorPosition;
    // nlohmann counts the offending character as consumed.
    offset = std::min(offset > 0 ? offset - 1 : 0, text.size());
    auto [line, column] = sourceMgr.getLineAndColumn(
        llvm::SMLoc::getFromPointer(text.begin() + offset));
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    llvm::StringRef message = parsed.errorMessage;
    if (message.starts_with("[json.exception."))
      message = message.split("] ").second;
    if (message.empty())
      message = "malformed JSON";
    mlir::emitError(FileLineColLoc::get(context, doc->fileName, line, column))
        << "malformed JSON: " << message;
    return nullptr;
  }
  doc->rootValue = std::move(parsed.value);
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
