module go.uber.org/atomic

go 1.26.8
