#pragma once

// Owning handles for the C driver's objects, so that every early return and exception frees
// them.

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <string>
#include <string_view>

namespace kagura::storage::mongo_detail {

template <auto Destroy>
struct Destroyer {
  template <typename T>
  void operator()(T* handle) const noexcept {
    Destroy(handle);
  }
};

using UriHandle = std::unique_ptr<mongoc_uri_t, Destroyer<mongoc_uri_destroy>>;
using ClientHandle = std::unique_ptr<mongoc_client_t, Destroyer<mongoc_client_destroy>>;
using CollectionHandle = std::unique_ptr<mongoc_collection_t, Destroyer<mongoc_collection_destroy>>;
using DatabaseHandle = std::unique_ptr<mongoc_database_t, Destroyer<mongoc_database_destroy>>;
using CursorHandle = std::unique_ptr<mongoc_cursor_t, Destroyer<mongoc_cursor_destroy>>;
using BulkHandle =
    std::unique_ptr<mongoc_bulk_operation_t, Destroyer<mongoc_bulk_operation_destroy>>;

// A document built or received in place (bson_init), such as a command's reply. Replies must be
// destroyed even when the call failed, which this does.
class Document {
 public:
  Document() { bson_init(&doc_); }
  ~Document() { bson_destroy(&doc_); }
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  bson_t* get() noexcept { return &doc_; }
  const bson_t* get() const noexcept { return &doc_; }
  // For out-parameters the driver initialises itself (replies): drops the current content first.
  bson_t* reset() noexcept {
    bson_destroy(&doc_);
    return &doc_;
  }

 private:
  bson_t doc_;
};

}  // namespace kagura::storage::mongo_detail
