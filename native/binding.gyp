{
  "targets": [
    {
      "target_name": "stat_many",
      "sources": ["stat-many.c"],
      "cflags": ["-O2", "-ffp-contract=off"],
      "xcode_settings": { "OTHER_CFLAGS": ["-ffp-contract=off"] }
    }
  ]
}
