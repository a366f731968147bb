// The one markdown table printer of every measurement.
#include <cstdarg>
#include <cstdio>
#include <stdexcept>

#include "bench.h"

namespace dinet::bench {

std::string cell(const char* format, ...) {
  va_list args, copy;
  va_start(args, format);
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(size > 0 ? size : 0, '\0');
  if (size > 0) std::vsnprintf(text.data(), text.size() + 1, format, args);
  va_end(args);
  return text;
}

Table::Table(const std::vector<std::string>& columns, const std::string& align) : columns_(columns.size()) {
  if (align.size() != columns.size()) throw std::logic_error("Table: one alignment letter per column");
  std::string header = "|", rule = "|";
  for (size_t c = 0; c < columns.size(); ++c) {
    header += " " + columns[c] + " |";
    rule += align[c] == 'r' ? " ---: |" : " --- |";
  }
  std::printf("%s\n%s\n", header.c_str(), rule.c_str());
  std::fflush(stdout);
}

void Table::row(const std::vector<std::string>& cells) const {
  if (cells.size() > columns_) throw std::logic_error("Table: more cells than columns");
  std::string line = "|";
  for (size_t c = 0; c < columns_; ++c) line += " " + (c < cells.size() ? cells[c] : std::string("-")) + " |";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace dinet::bench
