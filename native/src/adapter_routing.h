// Row routing of LoRA adapters: one forward whose batch rows belong to different adapters. The task-primary step
// runs both tasks' batches through the encoder at once this way: the base GEMMs see every row (larger, faster, and
// one weight gradient instead of two), while each adapter only sees, and so is only trained by, its own task's rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mtpf {

class AdapterRouting {
 public:
  // The next `rows` batch rows use adapter `adapter` ("" = base only). Segments follow each other from row 0.
  struct Segment {
    std::string adapter;
    int64_t rows = 0;
  };

  // For the scope's lifetime this thread's encoder forwards route rows so; it overrides ActiveAdapter. Scopes nest.
  explicit AdapterRouting(std::vector<Segment> segments);
  ~AdapterRouting();
  AdapterRouting(const AdapterRouting&) = delete;
  AdapterRouting& operator=(const AdapterRouting&) = delete;
  static const std::vector<Segment>& current();  // empty: no routing

  // Set by the encoder around its layers: where each segment's rows start in the layers' [N, hidden] inputs
  // (packed, only real tokens; padded, rows x seq), segments.size() + 1 bounds. What a LoraLinear reads.
  class LayerRows {
   public:
    explicit LayerRows(std::vector<int64_t> bounds);
    ~LayerRows();
    LayerRows(const LayerRows&) = delete;
    LayerRows& operator=(const LayerRows&) = delete;
    static const std::vector<int64_t>& current();  // empty: outside a routed forward's layers

   private:
    std::vector<int64_t> previous_;
  };

 private:
  std::vector<Segment> previous_;
};

}  // namespace mtpf
