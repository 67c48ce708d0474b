// Beam search: keeps the beam_width most probable partial continuations and returns the best
// finished ones. generate_detailed (sampler.h) calls it when beam_width > 1; tests call it directly,
// also with width 1, where it equals greedy decoding.
//
// Each step, for the live beams (at most beam_width, decoding side by side in the KV cache):
//   log p = log_softmax(processed logits)  (repetition penalty and no-repeat n-gram only)
//   candidates = beam logprob + log p over (beams x vocab); the 2 x beam_width best are visited in
//   order: an end token (EOS / stop id) among the first beam_width makes a finished hypothesis,
//   anything else a live beam, until beam_width live beams are found.
// A hypothesis of n generated tokens (its end token included) scores logprob / n^length_penalty:
// length_penalty 0 ranks by total log-probability, larger values favour longer outputs.
// The search stops after max_new_tokens steps, or once beam_width hypotheses are finished and none
// of the live beams scores better now than the worst of them (the usual heuristic). Live beams
// left at the end count as hypotheses ending by "length". Stop strings cut the returned texts but
// do not end beams. Deterministic: no random draws.
//
// Not guaranteed to beat greedy: the greedy prefix can fall out of the beam on the way, so a width
// of 4 may, rarely, end below greedy (tests/generate/beam_search_test.cpp shows one); a width that
// covers the vocabulary is exact over two tokens.
#pragma once
#include <vector>

#include "generate/sampler.h"

namespace gptforge {

// Returns min(num_samples, hypotheses) generations, best score first. opts.beam_width may be 1.
std::vector<Generation> beam_search(GPT& model, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                                    const Tokenizer* tok, const GenerationCallbacks& callbacks = {},
                                    GenerationStats* stats = nullptr);

}  // namespace gptforge
