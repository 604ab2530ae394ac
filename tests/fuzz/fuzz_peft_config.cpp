// libFuzzer target: a PEFT adapter_config.json, as `owl convert ADAPTER` and `--lora` read it
// (owl::peft::parse_lora_config), then the pattern lookups a merge makes with it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/hf/peft_config.h"
#include "formats/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto c = owl::peft::parse_lora_config(
        std::string_view(reinterpret_cast<const char*>(data), size), "adapter_config.json");
    (void)c.scale_for("model.layers.0.self_attn.q_proj");
    (void)c.rank_for("model.layers.1.mlp.down_proj");
  } catch (const owl::InputError&) {
  }
  return 0;
}
