/* Help texts: the overview and each command's usage. */
#include <string.h>

#include "cli.h"

static const char overview[] =
    "usage: fkm <command> [options]\n"
    "\n"
    "Exact Lloyd k-means (Flash-KMeans design) on NVIDIA GPUs, with a CPU engine.\n"
    "\n"
    "commands:\n"
    "  run INPUT.npy -k K [options]    cluster the points of a .npy file\n"
    "  predict INPUT.npy --init-centroids C.npy --labels OUT.npy\n"
    "                                  label points with their nearest given centroid\n"
    "  demo [options]                  cluster a seeded synthetic data set and check the result\n"
    "                                  (what 'fkm' alone runs)\n"
    "  info [--json]                   version, driver, NVRTC, devices, cache root\n"
    "  cache list|verify|clear|export FILE|import FILE|prebuild\n"
    "                                  the kernel cache and portable bundles\n"
    "  triton inspect DIR | export DIR | import FILE\n"
    "                                  Triton compatibility: what fkm can launch from a Triton\n"
    "                                  cache directory; tuning records to/from Triton autotune\n"
    "  tune INPUT.npy -k K | --shape N,D,K [options]\n"
    "                                  tune the assign kernel on the GPU, keep the winner\n"
    "  bench [--only NAME,.. | --shape B,N,K,D,DTYPE] [options]\n"
    "                                  time fit on SPEC §8's shapes, labels checked\n"
    "  help [COMMAND]                  this text, or one command's options\n"
    "  --version                       print the version\n";

static const char run_usage[] =
    "usage: fkm run INPUT.npy -k K [options]\n"
    "\n"
    "INPUT is (N, D) or (B, N, D) float16/float32/float64, C order. Writes centroids as float32\n"
    "(K, D) or (B, K, D) and labels as int32 (N,) or (B, N), only after the fit succeeded.\n"
    "\n"
    "  -k K                       clusters per batch, 1 <= K <= N (default: from "
    "--init-centroids)\n"
    "  --iters N                  maximum Lloyd iterations (default 300)\n"
    "  --tol T                    stop when the largest centroid shift < T (default 1e-4; <= 0: "
    "never)\n"
    "  --tol-relative             T is relative: times the mean per-feature variance of the\n"
    "                             input (scikit-learn's tol; for cosine and dot, of its rows\n"
    "                             scaled to unit length)\n"
    "  --metric l2|cosine|dot     (default l2)\n"
    "  --dtype fp16|bf16|fp32|fp64  compute dtype (default: the input's)\n"
    "  --init random|kmeans++|given  (default random; given needs --init-centroids)\n"
    "  --init-centroids C.npy     initial centroids (K, D) or (B, K, D)\n"
    "  --n-init R                 R initialisations (seeds S, then derived ones), keeping the\n"
    "                             result of lowest inertia (default 1; not with --init-centroids)\n"
    "  --sample-weight W.npy      float32/float64 weights (N,) or (B, N): weighted means and\n"
    "                             inertia; finite, >= 0, at least K positive per batch\n"
    "  --seed S                   seed of the initialisation (default 0; decimal, or hex after\n"
    "                             0x)\n"
    "  --engine auto|gpu|cpu      (default auto: the GPU when usable, else the CPU)\n"
    "  --empty keep|farthest      empty-cluster policy (default keep)\n"
    "  --device I                 CUDA device index (default 0)\n"
    "  --devices I,J,...          split the points over these GPUs (NCCL; one batch, random or\n"
    "                             given init); the result is the one-GPU fit's, bit for bit\n"
    "  --device-memory SIZE       device memory the fit may use, e.g. 8G or 512M (default: the\n"
    "                             free memory); larger inputs stream from the (memory-mapped)\n"
    "                             file in chunks\n"
    "  --centroids OUT.npy        write the centroids\n"
    "  --labels OUT.npy           write the labels\n"
    "  --json                     print a JSON summary on stdout\n"
    "  --quiet                    no progress or log lines on stderr\n";

static const char predict_usage[] =
    "usage: fkm predict INPUT.npy --init-centroids C.npy --labels OUT.npy [options]\n"
    "\n"
    "Labels (int32 (N,) or (B, N)) of the nearest centroid for every point.\n"
    "\n"
    "  -k K                       must match the centroids (optional)\n"
    "  --metric l2|cosine|dot     (default l2)\n"
    "  --dtype fp16|bf16|fp32|fp64  compute dtype (default: the input's)\n"
    "  --engine auto|gpu|cpu      (default auto)\n"
    "  --device I                 CUDA device index (default 0)\n"
    "  --device-memory SIZE       device memory predict may use (default: the free memory)\n"
    "  --json                     print a JSON summary on stdout\n"
    "  --quiet                    no log lines on stderr\n";

static const char demo_usage[] =
    "usage: fkm demo [--engine auto|gpu|cpu] [--seed S] [--device I] [--json] [--quiet]\n"
    "\n"
    "Generates 200000 points in 16 well-separated Gaussian blobs (D = 32) from a seeded\n"
    "counter-based generator, clusters them (the GPU when usable, else the CPU) and exits 0 only\n"
    "if the adjusted Rand index against the true blobs is at least 0.99.\n";

static const char info_usage[] =
    "usage: fkm info [--json]\n"
    "\n"
    "Shows the version, the CUDA driver, NVRTC, the devices, whether the GPU engine can run\n"
    "(and why not) and the cache root.\n";

static const char cache_usage[] =
    "usage: fkm cache list|verify|clear|export FILE|import FILE|prebuild [options]\n"
    "\n"
    "The user kernel cache ($FKM_CACHE_DIR, else $XDG_CACHE_HOME/fkm, else ~/.cache/fkm; an empty\n"
    "FKM_CACHE_DIR disables it). Kernels are also read from $FKM_CACHE_OVERRIDE_DIR (first) and\n"
    "the bundle files of $FKM_BUNDLE_PATH (colon-separated, last).\n"
    "\n"
    "  list [--json]              the intact entries (one JSON object per line with --json)\n"
    "  verify [--json]            checks every entry; exit status 1 if any is damaged\n"
    "  clear                      removes every kernel\n"
    "  export FILE                writes the cache as one portable bundle file\n"
    "  import FILE                checks a bundle and copies its kernels into the cache\n"
    "  prebuild --sm LIST --d LIST [--dtype LIST] [--metric LIST]\n"
    "                             compiles, with NVRTC and no GPU, every kernel fkm loads on\n"
    "                             devices of those compute capabilities (e.g. --sm 80,90,90a)\n"
    "                             for those D values, dtypes (fp16,bf16,fp32,tf32; default fp16)\n"
    "                             and metrics (l2,cosine,dot; default l2)\n"
    "  --quiet                    no log lines on stderr\n";

static const char triton_usage[] =
    "usage: fkm triton inspect DIR [--sm XY] [--json] | export DIR | import FILE [options]\n"
    "\n"
    "  inspect DIR   lists each kernel of a Triton cache directory ($TRITON_CACHE_DIR layout:\n"
    "                <hash>/<name>.json + <name>.cubin; read only) and whether fkm can launch it,\n"
    "                and why not: another target or arch, num_ctas > 1, cooperative grid, PDL,\n"
    "                global or profile scratch, or a cubin whose parameters do not match\n"
    "  --sm XY       judge for compute capability XY (default: device 0's; none: unchecked)\n"
    "  --json        one JSON object per kernel (with the cubin's parameter byte sizes)\n"
    "                (launching one is fkm_triton_launch in the C API)\n"
    "  export DIR    writes the user cache's tuning records as Triton autotune records,\n"
    "                DIR/<record key>/<fn>.autotune.json (flash-kmeans' key layout)\n"
    "  import FILE   stores the fastest config of a Triton <fn>.autotune.json as a tuning record\n"
    "                for its N, K (and D) and dtype; Triton does not record the rest:\n"
    "  --device NAME --sm XY   the GPU the timings come from (default: device 0)\n"
    "  --d D         D for records whose key has none (flash-kmeans' small-D kernels)\n"
    "  --batches B   the batch count B (default 1)\n"
    "  --quiet       no summary line, no log lines\n";

static const char tune_usage[] =
    "usage: fkm tune INPUT.npy -k K [options]\n"
    "       fkm tune --shape N,D,K [--batches B] [options]\n"
    "\n"
    "Tunes the assign kernel for these shapes on the GPU and stores the winner as a tuning record\n"
    "in the user cache (keyed by device, metric, dtype, D and N, K, B rounded up to powers of\n"
    "two); later fits of shapes in the same buckets use it without tuning. The few configurations\n"
    "a cost model ranks best (the model's own pick among them) are compiled in parallel, timed\n"
    "with device events on the real shapes and checked against reference labels.\n"
    "\n"
    "  -k K                       clusters per batch\n"
    "  --shape N,D,K              random points (N, D) instead of an input file, K clusters\n"
    "  --batches B                with --shape: B batches (default 1)\n"
    "  --metric l2|cosine|dot     (default l2)\n"
    "  --dtype fp16|bf16|fp32|tf32  compute dtype (default: the input's; fp16 with --shape);\n"
    "                             tf32 is fp32 with TF32 tensor-core precision\n"
    "  --device I                 CUDA device index (default 0)\n"
    "  --seed S                   seed of the initial centroids and random points (default 0)\n"
    "  --exhaustive               time every valid configuration instead (slow)\n"
    "  --compare-exhaustive       tune, then time every valid configuration, and print how the\n"
    "                             tuned pick and the model's untuned pick compare with the best\n"
    "  --json                     JSON lines: one object per configuration, then a summary\n"
    "  --quiet                    no log lines on stderr\n";

static const char bench_usage[] =
    "usage: fkm bench [--only NAME,... | --shape B,N,K,D,DTYPE ...] [options]\n"
    "\n"
    "Times fit per Lloyd iteration on random uniform points in [-1, 1): a 2-iteration warm-up\n"
    "(compiles), a timed fit with tol off (device time of its iterations), then 3 profiled\n"
    "iterations for the assign/update split. The timed fit's labels are checked on a sample of\n"
    "each batch against an fp64 scan of its centroids, within the compute dtype's rounding.\n"
    "Prints a markdown table; exits 1 when a fit fails or a label is not the nearest centroid.\n"
    "\n"
    "  --only NAME,...            SPEC §8 shapes by name (default: all nine): b32_n74k_k1000,\n"
    "                             n8m_k1024, n1m_k8192, b8_n65k_k100, n1m_k65536,\n"
    "                             n1m_k1024_d1024, n4m_k4096_bf16, n2m_k1024_fp32, n2m_k1024_tf32\n"
    "  --shape B,N,K,D,DTYPE      a shape of your own (DTYPE fp16, bf16, fp32 or tf32);\n"
    "                             repeatable\n"
    "  --iters N                  timed iterations (default 10)\n"
    "  --sample S                 points checked per batch (default 256)\n"
    "  --config BN,BK,BD,W,S[,C]  force the assign kernel's configuration (BLOCK_N, BLOCK_K,\n"
    "                             BLOCK_D, num_warps, num_stages, num_ctas)\n"
    "  --engine auto|gpu|cpu      (default gpu)\n"
    "  --device I                 CUDA device index (default 0)\n"
    "  --peak-tflops T            the card's measured dense fp16 matmul rate (default 730, SPEC\n"
    "                             §8's H100); TFLOP/s are also given as a percentage of it\n"
    "  --copy-tbps W              the card's measured device copy bandwidth, bytes read plus\n"
    "                             written (default 2.97, SPEC §8's H100). The floor of an\n"
    "                             iteration is max(2·B·N·K·D / T, bytes / W), its bytes the\n"
    "                             points read twice, the labels written and read, the\n"
    "                             centroids read and written\n"
    "  --json FILE                also one JSON object per shape and line into FILE\n";

static const struct {
  const char *command, *text;
} usages[] = {{"run", run_usage},   {"predict", predict_usage}, {"demo", demo_usage},
              {"info", info_usage}, {"cache", cache_usage},
              {"triton", triton_usage}, {"tune", tune_usage}, {"bench", bench_usage}};

int cli_usage(FILE *f, const char *command) {
  if (!command) {
    fputs(overview, f);
    return 0;
  }
  for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++) {
    if (strcmp(command, usages[i].command) == 0) {
      fputs(usages[i].text, f);
      return 0;
    }
  }
  return -1;
}
