#include "store/sqlite/sqlite_audit_postings.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::store {
namespace {

constexpr std::uint64_t kSegment = SqliteStore::kAuditSegment;

// A segment's posted fields in seq order; column i + 1 has tag kAuditPostingTags[i].
constexpr std::string_view kSelectSegmentFields =
    "SELECT seq, module, tenant, actor_user_id, action, resource_id FROM audit_events "
    "WHERE seq BETWEEN ? AND ? ORDER BY seq";
constexpr std::string_view kInsertPostings =
    "INSERT INTO audit_postings (segment, key, seq) VALUES ";
constexpr std::string_view kPostingValues = "(?1, ?, ?)";  // ?1: the segment
constexpr std::size_t kPostingsPerInsert = 256;
constexpr std::string_view kSelectLastSeq = "SELECT COALESCE(MAX(seq), 0) FROM audit_events";

// Reads the file at `path` once from start to end, discarding the bytes, when it fits in half
// the machine's memory: a hint to the OS page cache, errors ignored. The backfill reads every
// row in seq order; in a file written by version 3 the table's pages are interleaved with the
// six indexes' pages, so that order is a random walk over the file. On the 10M-event bench
// store (5.5 GB) the migration took 784 s with the file out of the page cache and 112 s with it
// in; one sequential read first costs about as long as the disk takes to stream the file.
void WarmFileCache(const std::string& path) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (error || pages <= 0 || page_size <= 0 ||
      size > static_cast<std::uintmax_t>(pages) * static_cast<std::uintmax_t>(page_size) / 2) {
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(std::size_t{1} << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
  }
}

}  // namespace

Status WriteAuditPostings(SqliteDb& db, std::uint64_t segment) {
  constexpr std::size_t kFields = std::size(kAuditPostingTags);
  // The keys live in one buffer and the postings point into it, so sorting moves small
  // entries rather than strings. One list per field, each filled in seq order.
  struct Posting {
    std::size_t offset = 0;  // of the key (tag + value) in `keys`
    std::size_t size = 0;
    std::int64_t seq = 0;
  };
  std::string keys;
  std::array<std::vector<Posting>, kFields> fields;
  for (std::vector<Posting>& postings : fields) postings.reserve(kSegment);
  std::uint64_t rows = 0;
  {
    // The rows were written by this transaction or by recent ones: they are in the cache.
    Result<SqliteStatement> select = db.Prepare(kSelectSegmentFields);
    if (!select) return std::move(select).error();
    select->Bind(segment * kSegment + 1).Bind(segment * kSegment + kSegment);
    for (;;) {
      Result<bool> row = select->Step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      ++rows;
      const std::int64_t seq = select->Int64(0);
      for (std::size_t i = 0; i < kFields; ++i) {
        const std::string_view value = select->TextView(static_cast<int>(i) + 1);
        if (value.empty()) continue;
        fields[i].push_back({.offset = keys.size(), .size = value.size() + 1, .seq = seq});
        keys += kAuditPostingTags[i];
        keys += value;
      }
    }
  }
  if (rows != kSegment) {  // AppendAudit's seq checks make this impossible
    return Status::Internal("audit segment " + std::to_string(segment) + " holds " +
                            std::to_string(rows) + " events, not " + std::to_string(kSegment));
  }
  // (key, seq) order: the fields in the order of their tags, each sorted by value; the sort is
  // stable, so equal keys keep their seq order. Cheaper than one sort of all the postings.
  const auto key = [&keys](const Posting& p) {
    return std::string_view(keys.data() + p.offset, p.size);
  };
  std::array<std::size_t, kFields> by_tag;
  for (std::size_t i = 0; i < kFields; ++i) by_tag[i] = i;
  std::sort(by_tag.begin(), by_tag.end(), [](std::size_t a, std::size_t b) {
    return static_cast<unsigned char>(kAuditPostingTags[a]) <
           static_cast<unsigned char>(kAuditPostingTags[b]);
  });
  std::vector<Posting> postings;
  postings.reserve(rows * kFields);
  for (std::size_t field : by_tag) {
    std::vector<Posting>& list = fields[field];
    std::stable_sort(list.begin(), list.end(),
                     [&key](const Posting& a, const Posting& b) { return key(a) < key(b); });
    postings.insert(postings.end(), list.begin(), list.end());
  }
  // `keys` no longer changes: its text is bound without a copy.
  return InsertRows(
      db, kInsertPostings, kPostingValues, kPostingsPerInsert, postings.size(),
      [segment](SqliteStatement& stmt) { stmt.Bind(segment); },
      [&](SqliteStatement& stmt, std::size_t i) {
        stmt.BindStatic(key(postings[i])).Bind(postings[i].seq);
      });
}

Status BackfillAuditPostings(SqliteDb& db) {
  std::uint64_t last_seq = 0;
  {
    Result<SqliteStatement> last = db.Prepare(kSelectLastSeq);
    if (!last) return std::move(last).error();
    Result<bool> row = last->Step();
    if (!row) return std::move(row).error();
    if (*row) last_seq = last->UInt64(0);
  }
  if (last_seq >= kSegment) WarmFileCache(db.path());
  for (std::uint64_t segment = 0; segment < last_seq / kSegment; ++segment) {
    Status written = WriteAuditPostings(db, segment);
    if (!written.ok()) return written;
  }
  return Status::Ok();
}

}  // namespace scaigrid::iam::store
